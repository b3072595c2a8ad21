"""Resolution's work split by a hash of the first identifier between the runs under way
(PostgreSQL): each batch takes the shards of its run's turn, and a run alone takes them all."""

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from profiles.identity import events_resolve_pending
from profiles.identity.runner import _resolver_slot
from profiles.identity.store import SHARD_OF_EVENT
from profiles.models import Event
from tests.factories import EventFactory, SourceFactory

T0 = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
PEOPLE = 40


def _shards() -> dict[int, int]:
    """Shard of each stored event, by event id."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {SHARD_OF_EVENT} FROM profiles_event")  # noqa: S608
        return dict(cursor.fetchall())


@pytest.fixture
def people(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("shards are taken with PostgreSQL advisory locks")
    source = SourceFactory()
    for n in range(PEOPLE):
        # Signed in: the user id is the first identifier; the anonymous id must not count.
        EventFactory(
            source=source,
            type="track",
            event="Viewed",
            user_id=f"user-{n}",
            anonymous_id=f"device-{n % 3}",
            timestamp=T0 + dt.timedelta(seconds=n),
        )


def _another_run_holds_a_slot(started: threading.Event, done: threading.Event) -> None:
    try:
        with _resolver_slot():
            started.set()
            done.wait(60)
    finally:
        connections.close_all()


def test_with_another_run_under_way_a_batch_takes_only_the_shards_of_its_turn(people):
    shards = _shards()
    assert len(set(shards.values())) > 2  # the people spread over several shards
    started, done = threading.Event(), threading.Event()
    other = threading.Thread(target=_another_run_holds_a_slot, args=(started, done))
    other.start()
    try:
        assert started.wait(30)
        # The other run took the lowest slot: this one's turn is the odd shards.
        resolved = events_resolve_pending(batch_size=PEOPLE, max_batches=1)
    finally:
        done.set()
        other.join(60)
    odd = {pk for pk, shard in shards.items() if shard % 2 == 1}
    assert resolved == len(odd)
    assert set(Event.objects.filter(resolved_at__isnull=False).values_list("id", flat=True)) == odd

    # Alone, a run takes every shard, and resolves the rest.
    assert events_resolve_pending(batch_size=PEOPLE) == PEOPLE - len(odd)
    assert not Event.objects.filter(resolved_at__isnull=True).exists()


def test_a_run_whose_shards_are_empty_takes_the_free_ones(people):
    started, done = threading.Event(), threading.Event()
    other = threading.Thread(target=_another_run_holds_a_slot, args=(started, done))
    other.start()
    try:
        assert started.wait(30)
        # The other run resolves nothing meanwhile: its shards are free, and this run,
        # its own shards done, takes them too.
        assert events_resolve_pending(batch_size=5) == PEOPLE
    finally:
        done.set()
        other.join(60)
    assert not Event.objects.filter(resolved_at__isnull=True).exists()
