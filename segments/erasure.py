"""What data subject requests do to the segments app's own tables.

Memberships and pending refresh requests of the subject's profiles are deleted. Snapshots keep
only counts, never who, so they need nothing. The store joins the erasure registry
(`cdp_site.erasure`) from the app config.
"""

from django.core.cache import cache
from django.db import transaction

from cdp_site.erasure import Store, Subject, store_register

from .models import RefreshRequest, SegmentMembership

PROFILES_TOTAL_CACHE_KEY = "segments:profiles_total"


def _memberships(subject: Subject):
    return SegmentMembership.objects.filter(profile_id__in=list(subject.profile_ids))


def _refresh_requests(subject: Subject):
    return RefreshRequest.objects.filter(profile_id__in=list(subject.profile_ids))


def _count(subject: Subject) -> int:
    return _memberships(subject).count() + _refresh_requests(subject).count()


def _erase(subject: Subject) -> int:
    with transaction.atomic():
        removed = _memberships(subject).delete()[0] + _refresh_requests(subject).delete()[0]
    # The cached profile total counted the subject.
    cache.delete(PROFILES_TOTAL_CACHE_KEY)
    return removed


def _export(subject: Subject) -> dict[str, list[dict]]:
    rows = [
        {
            "segment_id": row.segment_id,
            "segment": row.segment.name,
            "profile_id": row.profile_id,
            "entered_at": row.entered_at.isoformat(),
            "exited_at": row.exited_at.isoformat() if row.exited_at else None,
        }
        for row in _memberships(subject).select_related("segment").order_by("entered_at")
    ]
    return {"segment_memberships": rows}


def register() -> None:
    store_register(
        Store("segments.memberships", "Segment memberships", _count, _erase, _export, order=500)
    )
