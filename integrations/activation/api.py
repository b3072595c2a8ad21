"""REST API of activation: destinations (secrets write-only), audience syncs with their `run`
action, each destination's event forwards with theirs, and its dead letters with replay.

Integration admins manage destinations; a marketer lists the destinations shared with their
team, and manages the syncs of segments they may see. Refusals of the domain are answered by the
project's exception handler (`cdp_site.rest`).
"""

from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp_site.roles import Role, user_has_role
from profiles.models import Event
from segments.selectors import segment_get_for_user

from ..models import AudienceSync, DeadLetter, Destination, EventForward, SyncRun
from ..secrets import secrets_decrypt
from .forwarding import (
    event_forward_create,
    event_forward_delete,
    event_forward_run_start,
    event_forward_update,
)
from .runner import audience_sync_run_start
from .selectors import (
    audience_sync_get_for_user,
    audience_syncs_for_user,
    dead_letters_of,
    destination_get_for_user,
    destination_list_for_user,
    destinations_usable_by,
    event_forward_get_for_user,
)
from .services import (
    audience_sync_create,
    audience_sync_update,
    dead_letters_replay,
    destination_create,
    destination_update,
)


class IsIntegrationAdmin(BasePermission):
    message = "Your role does not give access to destinations."

    def has_permission(self, request, view):
        return user_has_role(request.user, [Role.INTEGRATION_ADMIN])


class IsMarketerOrAdmin(BasePermission):
    message = "Your role does not give access to audience syncs."

    def has_permission(self, request, view):
        return user_has_role(request.user, [Role.MARKETER, Role.INTEGRATION_ADMIN])


class DestinationSerializer(serializers.ModelSerializer):
    # Secret and plain settings together, as the connector's fields name them; secrets are
    # write-only: they come back only as the names of those set.
    settings = serializers.DictField(write_only=True, required=False, default=dict)
    secrets_set = serializers.SerializerMethodField()

    class Meta:
        model = Destination
        fields = [
            "id",
            "name",
            "kind",
            "config",
            "settings",
            "secrets_set",
            "paused",
            "paused_reason",
            "consecutive_failures",
            "last_delivery_at",
            "records_delivered",
            "records_failed",
            "created_at",
        ]
        read_only_fields = [
            "config",
            "paused",
            "paused_reason",
            "consecutive_failures",
            "last_delivery_at",
            "records_delivered",
            "records_failed",
            "created_at",
        ]

    def get_secrets_set(self, destination) -> list[str]:
        return sorted(secrets_decrypt(destination.secrets_encrypted))


class DestinationList(generics.ListCreateAPIView):
    serializer_class = DestinationSerializer
    permission_classes = [IsAuthenticated, IsMarketerOrAdmin]

    def get_queryset(self):
        if user_has_role(self.request.user, [Role.INTEGRATION_ADMIN]):
            return destination_list_for_user(self.request.user).order_by("pk")
        return destinations_usable_by(self.request.user).order_by("pk")

    def create(self, request, *args, **kwargs):
        if not user_has_role(request.user, [Role.INTEGRATION_ADMIN]):
            raise PermissionDenied("Only integration admins add destinations.")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        destination = destination_create(
            kind=data["kind"],
            name=data["name"],
            values=data.get("settings") or {},
            created_by=request.user,
        )
        return Response(DestinationSerializer(destination).data, status=status.HTTP_201_CREATED)


class DestinationDetail(generics.RetrieveUpdateAPIView):
    serializer_class = DestinationSerializer
    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    def get_object(self):
        perm = "view" if self.request.method == "GET" else "change"
        return destination_get_for_user(self.request.user, self.kwargs["pk"], perm=perm)

    def update(self, request, *args, **kwargs):
        destination = self.get_object()
        serializer = self.get_serializer(destination, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        values = {**destination.config, **(data.get("settings") or {})}
        destination = destination_update(
            destination=destination, name=data.get("name", destination.name), values=values
        )
        return Response(DestinationSerializer(destination).data)


class DeadLetterSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeadLetter
        fields = [
            "id",
            "sync_id",
            "run_id",
            "profile_id",
            "action",
            "reason",
            "attempts",
            "status",
            "created_at",
            "replayed_at",
        ]


class DeadLetterList(generics.ListAPIView):
    """A destination's dead letters, newest first (`?status=pending|replayed`)."""

    serializer_class = DeadLetterSerializer
    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    def get_queryset(self):
        destination = destination_get_for_user(self.request.user, self.kwargs["pk"])
        wanted = self.request.query_params.get("status", "")
        return dead_letters_of(destination, wanted if wanted in DeadLetter.Status.values else "")


class DeadLetterReplayRequestSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)


@extend_schema(
    request=DeadLetterReplayRequestSerializer,
    responses=inline_serializer(
        "DeadLetterReplayResult",
        {
            "replayed": serializers.IntegerField(),
            "runs": serializers.ListField(child=serializers.IntegerField()),
        },
    ),
)
class DeadLetterReplay(APIView):
    """Replay the waiting dead letters (or those of `ids`): 202, with the runs started."""

    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    def post(self, request, pk: int):
        destination = destination_get_for_user(request.user, pk, perm="change")
        serializer = DeadLetterReplayRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = dead_letters_replay(
            destination=destination, user=request.user, ids=serializer.validated_data.get("ids")
        )
        return Response(result, status=status.HTTP_202_ACCEPTED)


class AudienceRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncRun
        fields = [
            "id",
            "kind",
            "status",
            "trigger",
            "records_read",
            "records_stored",
            "records_entered",
            "records_exited",
            "records_left_out",
            "left_out_reasons",
            "records_failed",
            "progress_done",
            "progress_total",
            "started_at",
            "finished_at",
            "message",
        ]


class AudienceSyncSerializer(serializers.ModelSerializer):
    segment = serializers.IntegerField(source="segment_id")
    destination = serializers.IntegerField(source="destination_id")
    field_mapping = serializers.DictField(required=False)
    last_run = serializers.SerializerMethodField()

    class Meta:
        model = AudienceSync
        fields = [
            "id",
            "segment",
            "destination",
            "field_mapping",
            "consent_purpose",
            "mode",
            "interval_minutes",
            "enabled",
            "created_at",
            "last_run",
        ]
        read_only_fields = ["created_at"]

    def get_last_run(self, sync) -> dict | None:
        run = SyncRun.objects.filter(audience_sync=sync).order_by("-pk").first()
        return AudienceRunSerializer(run).data if run else None


class AudienceSyncList(generics.ListCreateAPIView):
    serializer_class = AudienceSyncSerializer
    permission_classes = [IsAuthenticated, IsMarketerOrAdmin]

    def get_queryset(self):
        return audience_syncs_for_user(self.request.user).order_by("pk")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            segment = segment_get_for_user(request.user, data["segment_id"])
        except Http404:
            # The address exists; what is missing is the segment the body names.
            raise ValidationError({"segment": ["No such segment."]}) from None
        destination = destinations_usable_by(request.user).filter(pk=data["destination_id"]).first()
        if destination is None:
            raise PermissionDenied("This destination is not shared with you.")
        sync = audience_sync_create(
            user=request.user,
            segment=segment,
            destination=destination,
            field_mapping=data.get("field_mapping") or {},
            consent_purpose=data.get("consent_purpose", ""),
            mode=data.get("mode", AudienceSync.Mode.MANUAL),
            interval_minutes=data.get("interval_minutes", 60),
        )
        return Response(AudienceSyncSerializer(sync).data, status=status.HTTP_201_CREATED)


class AudienceSyncDetail(generics.RetrieveUpdateAPIView):
    serializer_class = AudienceSyncSerializer
    permission_classes = [IsAuthenticated, IsMarketerOrAdmin]

    def get_object(self):
        return audience_sync_get_for_user(self.request.user, self.kwargs["pk"])

    def update(self, request, *args, **kwargs):
        sync = self.get_object()
        data = request.data if isinstance(request.data, dict) else {}
        sync = audience_sync_update(
            sync=sync,
            field_mapping=data.get("field_mapping", sync.field_mapping),
            consent_purpose=data.get("consent_purpose", sync.consent_purpose),
            mode=data.get("mode", sync.mode),
            interval_minutes=data.get("interval_minutes", sync.interval_minutes),
            enabled=data.get("enabled", sync.enabled),
        )
        return Response(AudienceSyncSerializer(sync).data)


@extend_schema(request=None, responses=AudienceRunSerializer)
class AudienceSyncRun(APIView):
    """Start a run of the sync: 202 with the queued run (409 if one is going or the
    destination is paused)."""

    permission_classes = [IsAuthenticated, IsMarketerOrAdmin]

    def post(self, request, pk: int):
        sync = audience_sync_get_for_user(request.user, pk)
        run = audience_sync_run_start(sync=sync, trigger=SyncRun.Trigger.API, user=request.user)
        run.refresh_from_db()
        return Response(AudienceRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class EventForwardSerializer(serializers.ModelSerializer):
    """A forward's filters: empty lists mean every source, type or name. `history` (on create
    only): also send the events already stored; otherwise only those stored from now on."""

    destination = serializers.IntegerField(source="destination_id", read_only=True)
    source_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    types = serializers.ListField(
        child=serializers.ChoiceField(choices=Event.Type.values), required=False
    )
    names = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    history = serializers.BooleanField(write_only=True, required=False, default=False)

    class Meta:
        model = EventForward
        fields = [
            "id",
            "destination",
            "source_ids",
            "types",
            "names",
            "enabled",
            "history",
            "last_event_id",
            "created_at",
        ]
        read_only_fields = ["last_event_id", "created_at"]


class EventForwardList(generics.ListCreateAPIView):
    """A destination's event forwards; POST sets one up (the destination must take events)."""

    serializer_class = EventForwardSerializer
    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    def get_queryset(self):
        destination = destination_get_for_user(self.request.user, self.kwargs["pk"])
        return destination.event_forwards.order_by("pk")

    def create(self, request, *args, **kwargs):
        destination = destination_get_for_user(request.user, kwargs["pk"], perm="change")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        forward = event_forward_create(
            destination=destination,
            source_ids=data.get("source_ids", []),
            types=data.get("types", []),
            names=data.get("names", []),
            history=data.get("history", False),
            user=request.user,
        )
        if data.get("enabled") is False:
            forward = event_forward_update(forward=forward, enabled=False)
        return Response(EventForwardSerializer(forward).data, status=status.HTTP_201_CREATED)


class EventForwardDetail(generics.RetrieveUpdateDestroyAPIView):
    """One forward: read, change its filters or switch it off (PATCH), delete (409 while a
    run of it is going)."""

    serializer_class = EventForwardSerializer
    permission_classes = [IsAuthenticated, IsIntegrationAdmin]
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_object(self):
        action = "view" if self.request.method in ("GET", "HEAD", "OPTIONS") else "change"
        return event_forward_get_for_user(self.request.user, self.kwargs["pk"], action=action)

    def update(self, request, *args, **kwargs):
        forward = self.get_object()
        serializer = self.get_serializer(forward, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        forward = event_forward_update(
            forward=forward,
            source_ids=data.get("source_ids"),
            types=data.get("types"),
            names=data.get("names"),
            enabled=data.get("enabled"),
        )
        return Response(EventForwardSerializer(forward).data)

    def perform_destroy(self, instance):
        event_forward_delete(forward=instance)


@extend_schema(request=None, responses={202: AudienceRunSerializer})
class EventForwardRun(APIView):
    """Forward the waiting events now: 202 with the queued run (409 if one is going or the
    destination is paused)."""

    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    def post(self, request, pk: int):
        forward = event_forward_get_for_user(request.user, pk, action="change")
        run = event_forward_run_start(
            forward=forward, trigger=SyncRun.Trigger.API, user=request.user
        )
        run.refresh_from_db()
        return Response(AudienceRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
