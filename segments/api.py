"""REST API of segments: live preview, CRUD, members, and the segments of a profile."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp_site.roles import Role, user_has_role

from .definition import DefinitionError, definition_validate
from .models import Segment, SegmentMembership
from .selectors import (
    definition_rules_for,
    profile_get_active,
    segment_can_change,
    segment_get_for_user,
    segment_list_for_user,
    segment_members,
    segment_preview,
    segments_shown_on_profiles,
)
from .services import segment_create, segment_delete, segment_update


class IsMarketer(BasePermission):
    message = "Your role does not give access to segments."

    def has_permission(self, request, view):
        return user_has_role(request.user, [Role.MARKETER])


class CanViewProfiles(BasePermission):
    message = "Your role does not give access to profiles."

    def has_permission(self, request, view):
        return user_has_role(
            request.user, [Role.MARKETER, Role.SUPPORT_AGENT, Role.COMPLIANCE_OFFICER]
        )


def _definition_error(error: DefinitionError) -> Response:
    return Response(
        {"code": error.code, "path": error.path, "detail": error.message},
        status=status.HTTP_400_BAD_REQUEST,
    )


class SegmentSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.get_username", read_only=True, default=None)

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
    definition = serializers.JSONField()


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
            return Response(
                {"code": "invalid_definition", "path": "", "detail": "Send a definition."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            definition = definition_validate(
                data["definition"], **definition_rules_for(request.user)
            )
        except DefinitionError as error:
            return _definition_error(error)
        preview = segment_preview(definition)
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
        return segment_list_for_user(self.request.user).select_related("owner").order_by("pk")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            segment = segment_create(
                user=request.user,
                name=serializer.validated_data["name"],
                definition=serializer.validated_data.get("definition") or {},
                description=serializer.validated_data.get("description", ""),
            )
        except DefinitionError as error:
            return _definition_error(error)
        return Response(SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)


class SegmentDetail(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = SegmentSerializer
    permission_classes = [IsAuthenticated, IsMarketer]

    def get_object(self):
        return segment_get_for_user(self.request.user, self.kwargs["segment_id"])

    def update(self, request, *args, **kwargs):
        segment = self.get_object()
        if not segment_can_change(request.user, segment):
            return Response(
                {"code": "permission_denied", "detail": "You may view this segment only."},
                status=status.HTTP_403_FORBIDDEN,
            )
        serializer = self.get_serializer(segment, data=request.data, partial=kwargs.get("partial"))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            segment = segment_update(
                segment=segment,
                name=data.get("name"),
                definition=data.get("definition"),
                description=data.get("description"),
                user=request.user,
            )
        except DefinitionError as error:
            return _definition_error(error)
        return Response(SegmentSerializer(segment).data)

    def destroy(self, request, *args, **kwargs):
        segment = self.get_object()
        if not segment_can_change(request.user, segment):
            return Response(
                {"code": "permission_denied", "detail": "You may view this segment only."},
                status=status.HTTP_403_FORBIDDEN,
            )
        try:
            segment_delete(segment=segment)
        except DefinitionError as error:
            return Response(
                {"code": "segment_in_use", "detail": error.message},
                status=status.HTTP_409_CONFLICT,
            )
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
        profile = profile_get_active(self.kwargs["profile_id"])
        return (
            SegmentMembership.objects.filter(
                profile=profile, segment__in=segments_shown_on_profiles(self.request.user)
            )
            .select_related("segment")
            .order_by("exited_at", "-entered_at", "pk")
        )
