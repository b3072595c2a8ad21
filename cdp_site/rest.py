"""REST framework plumbing referenced from settings: pagination and JSON errors.

Every refusal of the domain (`cdp_site.errors.DomainError`) becomes `{"code", "message"}` with
the status its kind names, so API views catch nothing.

Kept apart from any view module, because DRF imports these while it is still loading itself.
"""

from django.http import JsonResponse
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import DomainError


class StandardPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


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
