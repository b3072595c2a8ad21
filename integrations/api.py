"""REST API of sources and sync runs, so a deployment can be configured as code; write-key
rotation and the quarantine (list, replay, discard).

Secrets are write-only: they are accepted inside `config` and never answered back (the answer
lists which are set). The views catch nothing: domain refusals are answered by the project's
exception handler (`cdp_site.rest`).
"""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from cdp_site.errors import InvalidInputError
from cdp_site.roles import Role, user_has_role

from .models import QuarantinedMessage, Source, SyncRun
from .run_control import run_cancel, run_retry
from .secrets import secrets_decrypt
from .selectors import (
    source_get_for_user,
    source_list_for_user,
    source_quarantine_entry_get,
    source_quarantine_pending,
)
from .services import (
    KEY_GRACE_CHOICES,
    KEY_GRACE_DEFAULT_HOURS,
    quarantine_discard,
    quarantine_replay,
    source_create,
    source_delete,
    source_enabled_set,
    source_key_rotate,
)
from .sources import connection_test, source_connector_create, source_connector_update
from .sync.runner import sync_run_start
from .sync.schedules import source_next_run, source_schedule_set
from .sync.selectors import (
    kind_label,
    run_get_for_user,
    sync_run_errors,
    sync_run_get_for_user,
    sync_run_list_for_user,
)

CHANGE = "integrations.change_source"
DELETE = "integrations.delete_source"


class IsIntegrationAdmin(BasePermission):
    message = "Your role does not give access to sources."

    def has_permission(self, request, view):
        return user_has_role(request.user, [Role.INTEGRATION_ADMIN])


class ScheduleSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Source.Schedule.choices)
    every_minutes = serializers.IntegerField(required=False, allow_null=True)
    at = serializers.TimeField(required=False, allow_null=True)


class SourceSerializer(serializers.ModelSerializer):
    """A source as answered: settings without secrets, which secrets are set, the schedule."""

    kind_label = serializers.SerializerMethodField()
    config = serializers.SerializerMethodField()
    secrets_set = serializers.SerializerMethodField()
    schedule = serializers.SerializerMethodField()
    write_key = serializers.SerializerMethodField()

    class Meta:
        model = Source
        fields = [
            "id",
            "name",
            "kind",
            "kind_label",
            "enabled",
            "config",
            "secrets_set",
            "schedule",
            "write_key",
            "created_at",
        ]

    def get_kind_label(self, source) -> str:
        return kind_label(source.kind)

    def get_config(self, source) -> dict:
        return dict(source.config)

    def get_secrets_set(self, source) -> list[str]:
        return sorted(secrets_decrypt(source.secrets_encrypted)) if source.secrets_encrypted else []

    def get_schedule(self, source) -> dict | None:
        if source.is_tracking:
            return None
        next_run = source_next_run(source)
        return {
            "kind": source.schedule,
            "every_minutes": source.schedule_every_minutes,
            "at": source.schedule_at.isoformat() if source.schedule_at else None,
            "next_run": next_run.isoformat() if next_run else None,
        }

    def get_write_key(self, source) -> str | None:
        # The tracking API's write key is what SDKs send, shown on the source's page too.
        return source.write_key if source.is_tracking else None


class SourceWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    kind = serializers.CharField(max_length=32, required=False)
    enabled = serializers.BooleanField(required=False)
    config = serializers.DictField(
        required=False,
        help_text="Settings by field name; secrets are write-only and kept when left out or blank.",
    )
    schedule = ScheduleSerializer(required=False)


class SourceCreateSerializer(SourceWriteSerializer):
    kind = serializers.CharField(
        max_length=32,
        help_text="`tracking_api`, or the key of a connector (its settings go in `config`).",
    )


class SyncRunErrorSerializer(serializers.Serializer):
    position = serializers.CharField()
    reason = serializers.CharField()


class SyncRunSerializer(serializers.ModelSerializer):
    source_name = serializers.CharField(source="source.name", read_only=True, default=None)
    duration_seconds = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "kind",
            "source",
            "source_name",
            "audience_sync",
            "event_forward",
            "status",
            "trigger",
            "records_read",
            "records_stored",
            "records_unchanged",
            "records_failed",
            "records_entered",
            "records_exited",
            "records_left_out",
            "left_out_reasons",
            "progress",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "message",
            "checkpoint",
            "retries",
            "resumes",
            "cancel_requested",
        ]

    def get_duration_seconds(self, run) -> float | None:
        return run.duration.total_seconds() if run.duration is not None else None

    def get_progress(self, run) -> dict:
        return {
            "done": run.progress_done,
            "total": run.progress_total,
            "percent": run.progress_percent,
        }


class SyncRunDetailSerializer(SyncRunSerializer):
    errors = serializers.SerializerMethodField()
    errors_not_kept = serializers.IntegerField(read_only=True)

    class Meta(SyncRunSerializer.Meta):
        fields = [*SyncRunSerializer.Meta.fields, "errors", "errors_not_kept"]

    def get_errors(self, run) -> list[dict]:
        return SyncRunErrorSerializer(sync_run_errors(run), many=True).data


def _schedule_apply(source: Source, schedule: dict | None) -> Source:
    if schedule is None:
        return source
    if source.is_tracking:
        raise InvalidInputError("A tracking API source has no schedule.", field="schedule")
    return source_schedule_set(
        source=source,
        schedule=schedule["kind"],
        every_minutes=schedule.get("every_minutes"),
        at=schedule.get("at"),
    )


class SourceList(generics.ListCreateAPIView):
    """Every source the caller may see; POST creates one (a connector's settings in `config`)."""

    serializer_class = SourceSerializer
    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    def get_queryset(self):
        return (
            source_list_for_user(self.request.user)
            .select_related("schedule_task__interval", "schedule_task__crontab")
            .order_by("pk")
        )

    @extend_schema(request=SourceCreateSerializer, responses={201: SourceSerializer})
    def post(self, request, *args, **kwargs):
        incoming = SourceCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        kind = data.get("kind") or ""
        if not kind:
            raise InvalidInputError("Say which kind of source (kind).", field="kind")
        if kind == Source.Kind.TRACKING_API:
            if not data.get("name", "").strip():
                raise InvalidInputError("Give the source a name.", field="name")
            if Source.objects.filter(name__iexact=data["name"].strip()).exists():
                raise InvalidInputError("A source with this name already exists.", field="name")
            source = source_create(name=data["name"], created_by=request.user)
        else:
            source = source_connector_create(
                name=data.get("name", ""),
                kind=kind,
                values=data.get("config") or {},
                created_by=request.user,
            )
            source = _schedule_apply(source, data.get("schedule"))
        if data.get("enabled") is False:
            source = source_enabled_set(source=source, enabled=False, user=request.user)
        return Response(SourceSerializer(source).data, status=status.HTTP_201_CREATED)


class SourceDetail(generics.RetrieveUpdateDestroyAPIView):
    """One source: read, change (PATCH merges `config`; secrets kept unless sent), delete."""

    serializer_class = SourceSerializer
    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    def get_object(self):
        perm = {"GET": "integrations.view_source", "DELETE": DELETE}.get(
            self.request.method, CHANGE
        )
        return source_get_for_user(self.request.user, self.kwargs["pk"], perm=perm)

    @extend_schema(request=SourceWriteSerializer, responses=SourceSerializer)
    def update(self, request, *args, **kwargs):
        source = self.get_object()
        incoming = SourceWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        if "kind" in data and data["kind"] != source.kind:
            raise InvalidInputError(
                "A source's kind cannot change; add a new source.", field="kind"
            )
        if source.is_tracking:
            if "config" in data:
                raise InvalidInputError("A tracking API source has no settings.", field="config")
        elif "config" in data or "name" in data:
            values = dict(data.get("config") or {})
            if kwargs.get("partial"):
                values = {**source.config, **values}
            source = source_connector_update(source=source, values=values, name=data.get("name"))
        source = _schedule_apply(source, data.get("schedule"))
        if "enabled" in data:
            source = source_enabled_set(source=source, enabled=data["enabled"], user=request.user)
        source.refresh_from_db()
        return Response(SourceSerializer(source).data)

    def destroy(self, request, *args, **kwargs):
        source_delete(source=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SourceTest(APIView):
    """Test a saved source's connection; the answer says what to fix."""

    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "ConnectionCheck",
            {"ok": serializers.BooleanField(), "message": serializers.CharField()},
        ),
    )
    def post(self, request, pk: int):
        source = source_get_for_user(request.user, pk, perm=CHANGE)
        if source.is_tracking:
            raise InvalidInputError("A tracking API source has no connection to test.")
        check = connection_test(kind=source.kind, source=source)
        return Response({"ok": check.ok, "message": check.message})


class SourceSync(APIView):
    """Start a run of the source: 202 with the queued run."""

    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    @extend_schema(request=None, responses={202: SyncRunSerializer})
    def post(self, request, pk: int):
        source = source_get_for_user(request.user, pk, perm=CHANGE)
        run = sync_run_start(source=source, trigger=SyncRun.Trigger.API, user=request.user)
        run.refresh_from_db()
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class SyncRunList(generics.ListAPIView):
    """Runs of the sources the caller may see, newest first; `?source=<id>` for one source."""

    serializer_class = SyncRunSerializer
    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    def get_queryset(self):
        source = self.request.query_params.get("source")
        if source is not None and not source.isdigit():
            raise InvalidInputError("source must be a source id.", field="source")
        return sync_run_list_for_user(self.request.user, int(source) if source else None)


class SyncRunDetail(generics.RetrieveAPIView):
    """One run: status, counts, progress, its errors."""

    serializer_class = SyncRunDetailSerializer
    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    def get_object(self):
        return sync_run_get_for_user(self.request.user, self.kwargs["run_id"])


@extend_schema(request=None, responses={202: SyncRunSerializer})
class SyncRunCancel(APIView):
    """Cancel a run of any kind: a queued one at once, a running one after its current batch
    (202 with the run; 409 once it has ended)."""

    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    def post(self, request, run_id: int):
        run = run_cancel(run_get_for_user(request.user, run_id, action="change"))
        run.refresh_from_db()
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(request=None, responses={202: SyncRunSerializer})
class SyncRunRetry(APIView):
    """Start a new run of what a failed or cancelled run was doing, continuing where it stopped
    (202 with the new run; 409 if the run has not ended or another is going)."""

    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    def post(self, request, run_id: int):
        run = run_retry(run_get_for_user(request.user, run_id, action="change"), user=request.user)
        run.refresh_from_db()
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class KeyRotateSerializer(serializers.Serializer):
    grace_hours = serializers.ChoiceField(
        choices=sorted(KEY_GRACE_CHOICES),
        default=KEY_GRACE_DEFAULT_HOURS,
        help_text="How long the replaced key keeps working (0: it stops at once).",
    )


class KeyRotatedSerializer(serializers.Serializer):
    source = serializers.IntegerField()
    write_key = serializers.CharField()
    previous_key_valid_until = serializers.DateTimeField(allow_null=True)


class SourceKeyRotate(APIView):
    """Give a tracking source a new write key; the old one works until the grace period ends
    (audited; the keys themselves are never written to the log)."""

    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    @extend_schema(request=KeyRotateSerializer, responses={200: KeyRotatedSerializer})
    def post(self, request, pk: int):
        source = source_get_for_user(request.user, pk, perm=CHANGE)
        incoming = KeyRotateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        source = source_key_rotate(
            source=source, user=request.user, grace_hours=incoming.validated_data["grace_hours"]
        )
        return Response(
            KeyRotatedSerializer(
                {
                    "source": source.pk,
                    "write_key": source.write_key,
                    "previous_key_valid_until": source.previous_key_expires_at,
                }
            ).data
        )


class QuarantinedMessageSerializer(serializers.ModelSerializer):
    """A quarantined message and why it was refused (its payload is read on the page, audited)."""

    class Meta:
        model = QuarantinedMessage
        fields = ["id", "index", "code", "reason", "received_at", "status"]


class QuarantineList(generics.ListAPIView):
    """The source's waiting quarantined messages, newest first, with the reason for each."""

    serializer_class = QuarantinedMessageSerializer
    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    def get_queryset(self):
        return source_quarantine_pending(source_get_for_user(self.request.user, self.kwargs["pk"]))


class QuarantineReplaySerializer(serializers.Serializer):
    entries = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=1000,
        help_text="The messages to replay; left out, every waiting one.",
    )


class QuarantineReplayedSerializer(serializers.Serializer):
    stored = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    still_invalid = serializers.IntegerField()


class QuarantineReplay(APIView):
    """Try waiting quarantined messages again, as they were received (audited)."""

    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    @extend_schema(
        request=QuarantineReplaySerializer, responses={200: QuarantineReplayedSerializer}
    )
    def post(self, request, pk: int):
        source = source_get_for_user(request.user, pk, perm=CHANGE)
        incoming = QuarantineReplaySerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        result = quarantine_replay(
            source=source, user=request.user, entry_ids=incoming.validated_data.get("entries")
        )
        return Response(
            {
                "stored": result.stored,
                "duplicates": result.duplicates,
                "still_invalid": result.still_invalid,
            }
        )


class QuarantineDiscard(APIView):
    """Discard one waiting quarantined message: it is never stored (audited). 409 if it was
    already replayed or discarded."""

    permission_classes = [IsAuthenticated, IsIntegrationAdmin]

    @extend_schema(request=None, responses={200: QuarantinedMessageSerializer})
    def post(self, request, pk: int, entry_id: int):
        source = source_get_for_user(request.user, pk, perm=CHANGE)
        entry = source_quarantine_entry_get(source, entry_id)
        entry = quarantine_discard(source=source, user=request.user, entry_id=entry.pk)
        return Response(QuarantinedMessageSerializer(entry).data)
