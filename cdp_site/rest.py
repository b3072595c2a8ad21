"""REST framework plumbing referenced from settings: pagination and JSON errors.

Every refusal of the domain (`cdp_site.errors.DomainError`) becomes `{"code", "message"}` with
the status its kind names, so API views catch nothing.

Kept apart from any view module, because DRF imports these while it is still loading itself.
"""

from django.http import JsonResponse
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import DomainError


class StandardPagination(PageNumberPagination):
    """Pages of 50 by default; `page_size` outside 1 to 500 is refused (400), not quietly
    replaced by the default, so a caller never mistakes a short page for the end."""

    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = int(raw) if raw.isascii() and raw.isdigit() else 0
        if not 1 <= size <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return size

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = self.max_page_size
        return parameters


def exception_handler(exc, context):
    """DRF's handler, with a stable `code` beside DRF's `detail` for programs to branch on, and
    domain errors answered with their own status, code and message (and the field, if any).

    An error may carry `details`, more keys its API has promised (a bad definition's `path`)."""
    if isinstance(exc, DomainError):
        body = {"code": exc.code, "message": exc.message}
        if exc.field:
            body["field"] = exc.field
        body.update(getattr(exc, "details", {}))
        response = Response(body, status=exc.status)
        if getattr(exc, "retry_after", None):
            response["Retry-After"] = str(exc.retry_after)
        return response
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        detail = response.data["detail"]
        response.data["code"] = getattr(detail, "code", "error")
    return response


def json_error(status: int, code: str, message: str) -> JsonResponse:
    """The error body of every non-DRF JSON endpoint: `{"code": ..., "message": ...}`."""
    return JsonResponse({"code": code, "message": message}, status=status)
