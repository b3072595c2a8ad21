"""Two resolution workers at once on PostgreSQL: no duplicate person, nothing lost or repeated."""

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from profiles.identity import events_resolve_pending
from profiles.models import Event, Identity, Profile
from tests.factories import EventFactory, SourceFactory

T0 = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
PEOPLE = 12
EVENTS_PER_PERSON = 12


def _worker(results: list, errors: list, barrier: threading.Barrier) -> None:
    try:
        barrier.wait()
        results.append(events_resolve_pending(batch_size=3))
    except Exception as exc:
        errors.append(exc)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_create_two_profiles_for_one_email():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and SKIP LOCKED need PostgreSQL")
    source = SourceFactory()
    # Each person's events come from different devices, each carrying the e-mail, one after the
    # other: the two workers' batches hold the same person, and both try to create the e-mail.
    for person in range(PEOPLE):
        for n in range(EVENTS_PER_PERSON):
            EventFactory(
                source=source,
                type="identify",
                anonymous_id=f"device-{person}-{n % 4}",
                traits={"email": f"Person{person}@Example.com"},
                timestamp=T0 + dt.timedelta(minutes=person, seconds=n),
            )
    results: list[int] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=_worker, args=(results, errors, barrier)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(results) == PEOPLE * EVENTS_PER_PERSON  # each event resolved exactly once
    assert not Event.objects.filter(resolved_at__isnull=True).exists()
    assert Identity.objects.filter(kind="email").count() == PEOPLE
    for person in range(PEOPLE):
        owner = Identity.objects.get(kind="email", value=f"person{person}@example.com").profile
        assert owner.merged_into_id is None
        events = Event.objects.filter(traits__email=f"Person{person}@Example.com")
        assert set(events.values_list("profile_id", flat=True)) == {owner.pk}
        assert set(owner.identities.values_list("kind", flat=True)) == {"email", "anonymous_id"}
    assert (
        Profile.objects.filter(merged_into__isnull=True, identities__kind="email").count() == PEOPLE
    )
