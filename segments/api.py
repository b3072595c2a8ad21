"""REST API of segments: live preview, CRUD, members, and the segments of a profile.

The views catch nothing: a refusal of the domain (a bad definition, a segment in use, a person
who may only view it) is answered by the project's exception handler (`cdp_site.rest`).
"""

from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp_site.roles import PROFILE_READERS, Role, user_has_role
from cdp_site.serializers import StrictModelSerializer

from .definition import DefinitionError, definition_validate
from .models import Segment, SegmentMembership
from .selectors import (
    definition_rules_for,
    profile_memberships_for_user,
    segment_get_for_user,
    segment_list_for_user,
    segment_members,
    segment_preview_live,
)
from .services import segment_create, segment_delete, segment_update


class IsMarketer(BasePermission):
    message = "Your role does not give access to segments."

    def has_permission(self, request, view):
        return user_has_role(request.user, [Role.MARKETER])


class CanViewProfiles(BasePermission):
    message = "Your role does not give access to profiles."

    def has_permission(self, request, view):
        return user_has_role(request.user, PROFILE_READERS)


@extend_schema_field(
    {
        "type": "object",
        "description": (
            'A group: `{"match": "all"|"any", "negate": bool, "conditions": [...]}`; each '
            "condition a trait, event, consent, identifier or segment condition, or a nested "
            "group. Checked against the catalogue of fields; an error names its `path`."
        ),
        "properties": {
            "match": {"type": "string", "enum": ["all", "any"]},
            "negate": {"type": "boolean"},
            "conditions": {"type": "array", "items": {"type": "object"}, "maxItems": 200},
        },
    }
)
class DefinitionField(serializers.JSONField):
    """A segment definition; its grammar is checked by `definition_validate`."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("A definition must be an object (a group).")
        return super().to_internal_value(data)


class SegmentSerializer(StrictModelSerializer):
    owner = serializers.CharField(source="owner.get_username", read_only=True, default=None)
    definition = DefinitionField(required=False)

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "definition",
            "owner",
            "status",
            "member_count",
            "version",
            "refreshed_at",
            "refresh_duration_ms",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "status",
            "member_count",
            "version",
            "refreshed_at",
            "refresh_duration_ms",
            "created_at",
            "updated_at",
        ]


class PreviewSerializer(serializers.Serializer):
    definition = DefinitionField()


@extend_schema(
    request=PreviewSerializer,
    responses=inline_serializer(
        "SegmentPreview",
        {
            "count": serializers.IntegerField(),
            "total_profiles": serializers.IntegerField(),
            "sample": serializers.ListField(child=serializers.IntegerField()),
        },
    ),
)
class SegmentPreview(APIView):
    """The size of a definition right now, and a sample of matching profile ids."""

    permission_classes = [IsAuthenticated, IsMarketer]

    def post(self, request):
        data = request.data if isinstance(request.data, dict) else {}
        if "definition" not in data:
            raise DefinitionError("", "Send a definition.")
        definition = definition_validate(data["definition"], **definition_rules_for(request.user))
        preview = segment_preview_live(request.user, definition)
        return Response(
            {
                "count": preview["count"],
                "total_profiles": preview["total_profiles"],
                "sample": [p.pk for p in preview["sample"]],
            }
        )


class SegmentList(generics.ListCreateAPIView):
    serializer_class = SegmentSerializer
    permission_classes = [IsAuthenticated, IsMarketer]

    def get_queryset(self):
        return segment_list_for_user(self.request.user, with_owner=True).order_by("pk")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        segment = segment_create(
            user=request.user,
            name=serializer.validated_data["name"],
            definition=serializer.validated_data.get("definition") or {},
            description=serializer.validated_data.get("description", ""),
        )
        return Response(SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)


class SegmentDetail(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = SegmentSerializer
    permission_classes = [IsAuthenticated, IsMarketer]

    def get_object(self):
        return segment_get_for_user(self.request.user, self.kwargs["segment_id"])

    def update(self, request, *args, **kwargs):
        segment = self.get_object()
        serializer = self.get_serializer(segment, data=request.data, partial=kwargs.get("partial"))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        segment = segment_update(
            segment=segment,
            name=data.get("name"),
            definition=data.get("definition"),
            description=data.get("description"),
            user=request.user,
        )
        return Response(SegmentSerializer(segment).data)

    def destroy(self, request, *args, **kwargs):
        segment_delete(segment=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberSerializer(serializers.ModelSerializer):
    class Meta:
        model = SegmentMembership
        fields = ["profile_id", "entered_at"]


class SegmentMembers(generics.ListAPIView):
    """The current members of a segment (profile ids), newest first."""

    serializer_class = MemberSerializer
    permission_classes = [IsAuthenticated, IsMarketer]

    def get_queryset(self):
        return segment_members(segment_get_for_user(self.request.user, self.kwargs["segment_id"]))


class ProfileSegmentSerializer(serializers.ModelSerializer):
    segment_id = serializers.IntegerField()
    segment = serializers.CharField(source="segment.name")

    class Meta:
        model = SegmentMembership
        fields = ["segment_id", "segment", "entered_at", "exited_at"]


class ProfileSegments(generics.ListAPIView):
    """The segments a profile is (or was) in."""

    serializer_class = ProfileSegmentSerializer
    permission_classes = [IsAuthenticated, CanViewProfiles]

    def get_queryset(self):
        return profile_memberships_for_user(self.request.user, self.kwargs["profile_id"])
