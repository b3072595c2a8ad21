"""REST API of data subject requests: log one, read it (its status and, when done, its report),
verify, run, extend, reject, and download an access request's archive; read and export the
audit log. Compliance officers and superusers only; a refusal of the domain is answered by the
project's error handler."""

import datetime as dt
from urllib.parse import urlencode

from django.http import JsonResponse, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes, renderer_classes
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from cdp_site.audit import action_label
from cdp_site.errors import ConflictError
from cdp_site.params import keyset_cursor, keyset_cursor_text
from cdp_site.roles import Role, user_has_role

from . import requests as services
from .audit_csv import audit_csv_lines
from .audit_detail import audit_detail_lines
from .audit_filters import FILTER_NAMES, audit_filter_parse
from .models import DataSubjectRequest
from .selectors import (
    audit_export_for_user,
    audit_log_for_user,
    request_get,
    request_open_for_user,
)


class IsComplianceOfficer(BasePermission):
    message = "Only compliance officers may handle data subject requests."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user and user.is_authenticated and user_has_role(user, [Role.COMPLIANCE_OFFICER])
        )


_IDENTIFIER_VALUE = {"type": "string", "pattern": r"\S", "maxLength": 512}


@extend_schema_field(
    {
        "type": "object",
        "description": (
            "The person's identifiers by kind (`email`, `phone`, `user_id`, ...): a value or a "
            "list of values. E-mail addresses and phone numbers must be valid."
        ),
        "minProperties": 1,
        "propertyNames": {"pattern": "[A-Za-z0-9]"},
        "additionalProperties": {
            "oneOf": [
                _IDENTIFIER_VALUE,
                {"type": "array", "items": _IDENTIFIER_VALUE, "minItems": 1, "maxItems": 20},
            ]
        },
    }
)
class IdentifiersField(serializers.DictField):
    """Identifiers of a person, kind to value(s); checked in full by `identifiers_clean`."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        for kind, value in data.items():
            values = value if isinstance(value, list) else [value]
            # Text only, as the schema says: a number is not quietly turned into its digits.
            if not values or not all(isinstance(item, str) for item in values):
                raise serializers.ValidationError(
                    {kind: "Give the identifier as text, or a list of texts."}
                )
        return data


class RequestCreateSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=DataSubjectRequest.Type.choices)
    identifiers = IdentifiersField()
    channel = serializers.ChoiceField(
        choices=DataSubjectRequest.Channel.choices, default=DataSubjectRequest.Channel.API
    )
    received_on = serializers.DateField(required=False)
    details = serializers.DictField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class RequestSerializer(serializers.ModelSerializer):
    assignee = serializers.CharField(source="assignee.username", default=None, allow_null=True)

    class Meta:
        model = DataSubjectRequest
        fields = [
            "id",
            "type",
            "status",
            "channel",
            "identifiers",
            "received_on",
            "due_on",
            "extension_months",
            "extension_reason",
            "extension_told_on",
            "rejection_reason",
            "assignee",
            "progress",
            "report",
            "completed_at",
        ]


class ExtendSerializer(serializers.Serializer):
    months = serializers.IntegerField(min_value=1, max_value=2)
    reason = serializers.CharField(max_length=2000)
    told_on = serializers.DateField(default=dt.date.today)


class ConsentSerializer(serializers.Serializer):
    purpose = serializers.CharField(max_length=64)
    granted = serializers.BooleanField()
    evidence = serializers.CharField(max_length=32)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


@extend_schema(request=ConsentSerializer, responses={201: ConsentSerializer})
@api_view(["POST"])
@permission_classes([IsComplianceOfficer])
def consent_record(request, profile_id: int):
    """Record a consent choice made outside the tracked channels, with its evidence."""
    from .consent_manual import consent_record_by_hand

    data = ConsentSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    record = consent_record_by_hand(
        user=request.user,
        profile_id=profile_id,
        purpose_key=data.validated_data["purpose"],
        granted=data.validated_data["granted"],
        evidence=data.validated_data["evidence"],
        note=data.validated_data.get("note", ""),
    )
    return Response(
        {"id": record.pk, "purpose": record.purpose.key, "granted": record.granted},
        status=status.HTTP_201_CREATED,
    )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


@extend_schema(request=RequestCreateSerializer, responses={201: RequestSerializer})
@api_view(["POST"])
@permission_classes([IsComplianceOfficer])
def request_create(request):
    data = RequestCreateSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    created = services.request_create(user=request.user, **data.validated_data)
    return Response(RequestSerializer(created).data, status=status.HTTP_201_CREATED)


@extend_schema(responses=RequestSerializer)
@api_view(["GET"])
@permission_classes([IsComplianceOfficer])
def request_detail(request, pk: int):
    return Response(RequestSerializer(request_open_for_user(user=request.user, request_id=pk)).data)


@extend_schema(request=None, responses=RequestSerializer)
@api_view(["POST"])
@permission_classes([IsComplianceOfficer])
def request_verify(request, pk: int):
    dsr = services.request_verify(request=request_get(request_id=pk), user=request.user)
    return Response(RequestSerializer(dsr).data)


@extend_schema(request=None, responses={202: RequestSerializer})
@api_view(["POST"])
@permission_classes([IsComplianceOfficer])
def request_run(request, pk: int):
    dsr = services.request_run(request=request_get(request_id=pk), user=request.user)
    return Response(RequestSerializer(dsr).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(request=ExtendSerializer, responses=RequestSerializer)
@api_view(["POST"])
@permission_classes([IsComplianceOfficer])
def request_extend(request, pk: int):
    data = ExtendSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    dsr = services.request_extend(
        request=request_get(request_id=pk), user=request.user, **data.validated_data
    )
    return Response(RequestSerializer(dsr).data)


@extend_schema(request=ReasonSerializer, responses=RequestSerializer)
@api_view(["POST"])
@permission_classes([IsComplianceOfficer])
def request_reject(request, pk: int):
    data = ReasonSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    dsr = services.request_reject(
        request=request_get(request_id=pk), user=request.user, reason=data.validated_data["reason"]
    )
    return Response(RequestSerializer(dsr).data)


@extend_schema(
    responses={
        (200, "application/zip"): bytes,
        409: OpenApiResponse(description="No archive now: the request has not run, or it expired."),
    }
)
@api_view(["GET"])
@permission_classes([IsComplianceOfficer])
def request_archive(request, pk: int):
    """The access archive while the request's link is valid (the same expiry as the page's)."""
    from django.utils import timezone

    from .request_views import archive_response

    dsr = request_get(request_id=pk)
    if not (dsr.archive_expires_at and dsr.archive_expires_at > timezone.now()):
        raise ConflictError("There is no archive: run the access request, or run it again.")
    return archive_response(dsr, request.user)


class AuditEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    user = serializers.CharField(source="username", help_text="Empty for system changes.")
    action = serializers.CharField(help_text="The action's code, as `action` filters it.")
    action_label = serializers.CharField()
    profile_id = serializers.IntegerField(allow_null=True)
    detail = serializers.DictField()
    detail_text = serializers.CharField(help_text="The details as people read them.")


class AuditPageSerializer(serializers.Serializer):
    results = AuditEntrySerializer(many=True)
    next = serializers.CharField(
        allow_null=True, help_text="The address of the next (older) page, or null."
    )


AUDIT_FILTER_PARAMETERS = [
    OpenApiParameter("user", str, description="A user name (any case)."),
    OpenApiParameter("action", str, description="An action code, as `audit_log.view`."),
    OpenApiParameter(
        "profile",
        {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
        description="A profile id.",
    ),
    OpenApiParameter("since", OpenApiTypes.DATE, description="From this day (UTC), YYYY-MM-DD."),
    OpenApiParameter("until", OpenApiTypes.DATE, description="To this day (UTC), inclusive."),
]


class IsComplianceOfficerForAudit(BasePermission):
    message = "Only compliance officers may read the audit log."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user and user.is_authenticated and user_has_role(user, [Role.COMPLIANCE_OFFICER])
        )


def _audit_filters(request):
    params = request.query_params
    if "before" in params and keyset_cursor(params["before"].strip()) is None:
        # A cursor is the API's own token, not a person's filter: one that cannot be read (cut
        # short, or made up) pages from the newest entries again rather than failing.
        params = params.copy()
        del params["before"]
    blank = [n for n in ("profile", "since", "until") if n in params and not params[n].strip()]
    if blank:
        raise ValidationError(dict.fromkeys(blank, "Give a value, or leave the parameter out."))
    filters, errors = audit_filter_parse(params)
    # Dates the wrong way round match nothing: the API answers that (an empty page), the page
    # says why.
    backwards = filters.since and filters.until and filters.until < filters.since
    if backwards and set(errors) == {"until"}:
        errors = {}
    if errors:
        raise ValidationError(errors)
    asked = {k: v for k, v in params.items() if v and k in FILTER_NAMES}
    return filters, asked


def _entry(row) -> dict:
    lines = audit_detail_lines(row.detail)
    return {
        "id": row.pk,
        "at": row.at,
        "username": row.username,
        "action": row.action,
        "action_label": action_label(row.action),
        "profile_id": row.profile_id,
        "detail": row.detail if isinstance(row.detail, dict) else {"value": row.detail},
        "detail_text": "; ".join(f"{label}: {text}" for label, text in lines),
    }


@extend_schema(
    parameters=[
        *AUDIT_FILTER_PARAMETERS,
        OpenApiParameter(
            "before",
            str,
            description="The page cursor `next` carries; one that cannot be read starts again "
            "from the newest entries.",
        ),
    ],
    responses={200: AuditPageSerializer},
)
@api_view(["GET"])
@permission_classes([IsComplianceOfficerForAudit])
def audit_log(request):
    """The audit log, newest first, 50 entries a page (keyset paging: follow `next`). A filter
    value that cannot be used answers 400 saying why. Reading the log is itself recorded."""
    filters, asked = _audit_filters(request)
    rows, cursor = audit_log_for_user(user=request.user, filters=filters, asked=asked)
    next_url = None
    if cursor is not None:
        params = {k: v for k, v in asked.items() if k != "before"}
        params["before"] = keyset_cursor_text(cursor)
        next_url = request.build_absolute_uri(request.path) + "?" + urlencode(params)
    return Response(
        AuditPageSerializer({"results": [_entry(row) for row in rows], "next": next_url}).data
    )


class CSVRenderer(BaseRenderer):
    """Lets a caller ask for `Accept: text/csv`; a refusal (400, 403) comes as plain text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict):
            return "\n".join(f"{key}: {value}" for key, value in data.items()).encode()
        return str(data or "").encode()


@extend_schema(
    parameters=AUDIT_FILTER_PARAMETERS,
    responses={(200, "text/csv"): OpenApiTypes.STR},
)
@api_view(["GET"])
@renderer_classes([JSONRenderer, CSVRenderer])
@permission_classes([IsComplianceOfficerForAudit])
def audit_log_export(request):
    """Every entry matching the filters as CSV (`at_utc, user, action, action_code, profile_id,
    details`), streamed. The export is recorded in the log."""
    if request.query_params.get("format", "csv") not in ("csv", "json"):
        # An empty `format` reaches the view (DRF answers 404 for any other it cannot render).
        return JsonResponse(
            {"code": "invalid", "message": "format: csv or json (or leave it out)."}, status=400
        )
    try:
        filters, asked = _audit_filters(request)
    except ValidationError as refused:
        # Said in JSON whatever was asked for, as every other refusal of the API.
        return JsonResponse(
            {"code": "invalid", "message": "Some filters cannot be used.", **refused.detail},
            status=400,
        )
    rows = audit_export_for_user(user=request.user, filters=filters, asked=asked)
    response = StreamingHttpResponse(audit_csv_lines(rows), content_type="text/csv")
    stamp = timezone.now().date().isoformat()
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
    return response
