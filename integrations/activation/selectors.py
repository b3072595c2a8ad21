"""Reads of activation: the permission-checked doors to destinations and audience syncs, their
health, runs and dead letters.

Integration admins see every destination (their model permission); a marketer sees, and may send
to, the destinations shared with a team of theirs (`use_destination`, django-guardian), and the
syncs of segments they may see.
"""

from django.db.models import Count, Max, Q, QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from cdp_site.params import id_in_range
from compliance.selectors import consent_purposes
from segments.selectors import segment_get_for_user, segment_list_for_user

from ..models import AudienceSync, DeadLetter, Destination, EventForward, Source, SyncRun


def destination_list_for_user(user, perm: str = "view") -> QuerySet[Destination]:
    """Destinations the person may manage (`perm` view or change), every one with the model
    permission, else those granted to them."""
    return get_objects_for_user(user, f"integrations.{perm}_destination", klass=Destination)


def destination_get_for_user(user, pk: int, perm: str = "view") -> Destination:
    destination = (
        destination_list_for_user(user, perm).filter(pk=pk).first() if id_in_range(pk) else None
    )
    if destination is None:
        raise Http404("No such destination.")
    return destination


def destinations_usable_by(user) -> QuerySet[Destination]:
    """Destinations a person may send audiences to: shared with a team of theirs (or them)."""
    if user.is_superuser:
        return Destination.objects.all()
    return get_objects_for_user(
        user, "integrations.use_destination", klass=Destination, accept_global_perms=False
    )


def destination_health(destinations) -> list[dict]:
    """Per destination: last delivery, success rate, waiting dead letters, paused or not, and
    its syncs, in two queries."""
    destinations = list(destinations)
    waiting = dict(
        DeadLetter.objects.filter(destination__in=destinations, status=DeadLetter.Status.PENDING)
        .order_by()
        .values("destination")
        .annotate(n=Count("id"))
        .values_list("destination", "n")
    )
    syncs = dict(
        AudienceSync.objects.filter(destination__in=destinations)
        .order_by()
        .values("destination")
        .annotate(n=Count("id"))
        .values_list("destination", "n")
    )
    rows = []
    for destination in destinations:
        total = destination.records_delivered + destination.records_failed
        rows.append(
            {
                "destination": destination,
                "success_rate": (destination.records_delivered / total) if total else None,
                "dead_letters": waiting.get(destination.pk, 0),
                "syncs": syncs.get(destination.pk, 0),
            }
        )
    return rows


def audience_syncs_for_user(user) -> QuerySet[AudienceSync]:
    """Syncs the person may see: every one for an integration admin; for a marketer, those of
    segments they may see to destinations shared with them."""
    syncs = AudienceSync.objects.select_related("segment", "destination")
    if user.is_superuser or user.has_perm("integrations.view_destination"):
        return syncs
    return syncs.filter(
        segment__in=segment_list_for_user(user), destination__in=destinations_usable_by(user)
    )


def audience_sync_get_for_user(user, pk: int) -> AudienceSync:
    sync = audience_syncs_for_user(user).filter(pk=pk).first() if id_in_range(pk) else None
    if sync is None:
        raise Http404("No such audience sync.")
    return sync


def last_runs(syncs) -> dict[int, SyncRun]:
    """{sync id: its latest run}, in one query."""
    newest = (
        SyncRun.objects.filter(audience_sync__in=[sync.pk for sync in syncs])
        .order_by()
        .values("audience_sync")
        .annotate(newest=Max("pk"))
        .values("newest")
    )
    return {run.audience_sync_id: run for run in SyncRun.objects.filter(pk__in=newest)}


def segment_syncs_for_user(user, segment_id: int) -> dict:
    """The segment page's “Send to...” fragment: the segment's syncs the person sees with
    their last runs, and the destinations they may still send it to."""
    segment = segment_get_for_user(user, segment_id)
    syncs = list(
        audience_syncs_for_user(user).filter(segment=segment).order_by("destination__name")
    )
    latest = last_runs(syncs)
    used = {sync.destination_id for sync in syncs}
    return {
        "segment": segment,
        "rows": [{"sync": sync, "run": latest.get(sync.pk)} for sync in syncs],
        "destinations": [
            d for d in destinations_usable_by(user).order_by("name") if d.pk not in used
        ],
        "purposes": consent_purposes(),
    }


def audience_sync_runs(sync: AudienceSync, limit: int = 20) -> list[SyncRun]:
    return list(SyncRun.objects.filter(audience_sync=sync).order_by("-pk")[:limit])


def destination_syncs(destination: Destination) -> list[dict]:
    syncs = list(destination.audience_syncs.select_related("segment").order_by("segment__name"))
    latest = last_runs(syncs)
    return [{"sync": sync, "run": latest.get(sync.pk)} for sync in syncs]


def destination_forwards(destination: Destination) -> list[dict]:
    """The destination's event forwards, each with its last run and the names of its sources."""
    forwards = list(destination.event_forwards.order_by("pk"))
    source_ids = {pk for forward in forwards for pk in forward.source_ids}
    names = dict(Source.objects.filter(pk__in=source_ids).values_list("pk", "name"))
    newest = (
        SyncRun.objects.filter(event_forward__in=forwards)
        .order_by()
        .values("event_forward")
        .annotate(newest=Max("pk"))
        .values("newest")
    )
    latest = {run.event_forward_id: run for run in SyncRun.objects.filter(pk__in=newest)}
    return [
        {
            "forward": forward,
            "sources": [names.get(pk, f"source {pk} (deleted)") for pk in forward.source_ids],
            "run": latest.get(forward.pk),
        }
        for forward in forwards
    ]


def event_forward_get_for_user(user, pk: int, action: str = "view") -> EventForward:
    """A forward of a destination the person may see (`action` "view") or change; 404 else."""
    forward = (
        EventForward.objects.select_related("destination")
        .filter(pk=pk, destination__in=destination_list_for_user(user, action))
        .first()
        if id_in_range(pk)
        else None
    )
    if forward is None:
        raise Http404("No such event forward.")
    return forward


def dead_letters_pending(destination: Destination) -> QuerySet[DeadLetter]:
    return DeadLetter.objects.filter(
        destination=destination, status=DeadLetter.Status.PENDING
    ).order_by("-created_at", "-id")


def dead_letters_of(destination: Destination, status: str = "") -> QuerySet[DeadLetter]:
    letters = DeadLetter.objects.filter(destination=destination)
    if status:
        letters = letters.filter(status=status)
    return letters.order_by("-created_at", "-id")


def destination_runs(destination: Destination, limit: int = 20) -> list[SyncRun]:
    return list(
        SyncRun.objects.filter(
            Q(audience_sync__destination=destination) | Q(event_forward__destination=destination)
        )
        .select_related("audience_sync__segment")
        .order_by("-pk")[:limit]
    )
