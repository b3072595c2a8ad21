"""REST API of data subject requests: log one, read it (its status and, when done, its report),
verify, run, extend, reject, and download an access request's archive. Compliance officers and
superusers only; a refusal of the domain is answered by the project's error handler."""

import datetime as dt

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from cdp_site.errors import ConflictError
from cdp_site.roles import Role, user_has_role

from . import requests as services
from .models import DataSubjectRequest
from .selectors import request_get, request_open_for_user


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
