"""Reads of connector sources and their runs, for pages and the API: the list with each
source's health, a source's runs, one run with its errors; runs are reached through their
source, so the source's permissions decide who sees them."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Q, Subquery
from django.http import Http404

from cdp_site.errors import InvalidInputError
from cdp_site.params import id_in_range
from integrations.connectors.registry import connector_class, connector_classes
from integrations.models import Source, SyncRun, SyncRunError
from integrations.secrets import secrets_decrypt
from integrations.selectors import source_list_for_user

from .schedules import schedule_describe, source_next_run

RUN_HISTORY_SHOWN = 20
RUN_ERRORS_SHOWN = 200


def kind_label(kind: str) -> str:
    if kind == Source.Kind.TRACKING_API:
        return Source.Kind.TRACKING_API.label
    try:
        return connector_class(kind).label
    except Exception:
        return kind


def source_kinds() -> list[dict]:
    """What a person can add: the tracking API, then every source connector."""
    kinds = [
        {
            "key": Source.Kind.TRACKING_API.value,
            "label": Source.Kind.TRACKING_API.label,
            "description": "Websites, apps and back ends send events with a Segment or "
            "RudderStack SDK and a write key.",
        }
    ]
    kinds += [
        {"key": cls.key, "label": cls.label, "description": cls.description}
        for cls in connector_classes("source")
    ]
    return kinds


@dataclass(frozen=True)
class SourceHealth:
    source: Source
    kind_label: str
    pulls: bool
    last_run: SyncRun | None
    next_run: datetime | None
    schedule: str


def sources_health_for_user(user) -> list[SourceHealth]:
    """Every source the person may see with its last run and next run, in three queries."""
    latest = SyncRun.objects.filter(source=OuterRef("pk")).order_by("-created_at", "-id")
    sources = list(
        source_list_for_user(user)
        .select_related("schedule_task__interval", "schedule_task__crontab")
        .annotate(last_run_id=Subquery(latest.values("pk")[:1]))
    )
    runs = SyncRun.objects.in_bulk([s.last_run_id for s in sources if s.last_run_id])
    rows = []
    for source in sources:
        pulls = _pulls(source)
        rows.append(
            SourceHealth(
                source=source,
                kind_label=kind_label(source.kind),
                pulls=pulls,
                last_run=runs.get(source.last_run_id),
                next_run=source_next_run(source) if pulls else None,
                schedule=schedule_describe(source) if pulls else "",
            )
        )
    return rows


def _pulls(source: Source) -> bool:
    if source.is_tracking:
        return False
    try:
        return connector_class(source.kind).pulls
    except Exception:
        return False


def source_runs(source: Source, limit: int = RUN_HISTORY_SHOWN) -> list[SyncRun]:
    return list(SyncRun.objects.filter(source=source).order_by("-created_at", "-id")[:limit])


def source_active_run(source: Source) -> SyncRun | None:
    return SyncRun.objects.filter(source=source, status__in=SyncRun.ACTIVE).first()


def sync_run_list_for_user(user, source_id: int | None = None, action: str = "view"):
    """Runs the person may see (`action` "view") or act on ("change"), newest first (a
    queryset, for paging): those of their sources, and the audience and forwarding runs of
    their destinations."""
    from integrations.activation.selectors import destination_list_for_user

    destinations = destination_list_for_user(user, action)
    runs = SyncRun.objects.filter(
        Q(source__in=source_list_for_user(user, f"integrations.{action}_source"))
        | Q(audience_sync__destination__in=destinations)
        | Q(event_forward__destination__in=destinations)
    ).select_related("source")
    if source_id is not None:
        runs = runs.filter(source_id=source_id)
    return runs.order_by("-created_at", "-id")


def sync_run_get_for_user(
    user, run_id: int, source: Source | None = None, perm: str = "integrations.view_source"
) -> SyncRun:
    """The one door to a source's run: 404 unless the person may see (or act on) its source;
    without `source`, any run the person may see."""
    run = None
    if id_in_range(run_id):
        if source is not None:
            runs = SyncRun.objects.filter(
                source__in=source_list_for_user(user, perm), source=source
            )
        else:
            runs = sync_run_list_for_user(user)
        run = runs.select_related("source").filter(pk=run_id).first()
    if run is None:
        raise Http404("No such sync run.")
    return run


def run_get_for_user(user, run_id: int, action: str = "view") -> SyncRun:
    """Any kind of run the person may see (`action` "view") or act on ("change"); 404 else."""
    run = (
        sync_run_list_for_user(user, action=action)
        .select_related("audience_sync__segment", "event_forward__destination")
        .filter(pk=run_id)
        .first()
        if id_in_range(run_id)
        else None
    )
    if run is None:
        raise Http404("No such run.")
    return run


def sync_run_errors(run: SyncRun, limit: int = RUN_ERRORS_SHOWN) -> list[SyncRunError]:
    return list(SyncRunError.objects.filter(run=run).order_by("id")[:limit])


def source_settings_shown(source: Source) -> list[tuple[str, str]]:
    """(label, value) of a connector source's settings as a page shows them: secrets only as
    whether they are set."""
    try:
        cls = connector_class(source.kind)
    except Exception:
        return []
    try:
        # Only the names are used: the values never leave this function.
        stored = set(secrets_decrypt(source.secrets_encrypted))
        unreadable = False
    except InvalidInputError:
        stored, unreadable = set(), True
    shown = []
    for spec in cls.fields:
        if spec.is_secret:
            if unreadable:
                state = "stored, but unreadable with the configured keys (CDP_SECRET_KEYS)"
            else:
                state = "set (hidden)" if spec.name in stored else "not set"
            shown.append((spec.label, state))
        else:
            value = source.config.get(spec.name)
            shown.append((spec.label, "" if value is None else str(value)))
    return shown


def run_counts(run: SyncRun) -> list[tuple[str, str, int]]:
    """(key, label, number) of what a run did, in the words of its kind."""
    if run.kind == SyncRun.Kind.AUDIENCE:
        return [
            ("sent", "sent", run.records_stored),
            ("entered", "added", run.records_entered),
            ("exited", "removed", run.records_exited),
            ("left_out", "left out", run.records_left_out),
            ("failed", "failed", run.records_failed),
        ]
    if run.kind == SyncRun.Kind.FORWARD:
        return [
            ("read", "read", run.records_read),
            ("forwarded", "forwarded", run.records_stored),
            ("failed", "refused", run.records_failed),
        ]
    return [
        ("read", "read", run.records_read),
        ("stored", "stored", run.records_stored),
        ("unchanged", "unchanged", run.records_unchanged),
        ("failed", "failed", run.records_failed),
    ]
