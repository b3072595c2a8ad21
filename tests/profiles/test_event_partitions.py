"""The event table partitioned by month on PostgreSQL: partitions made ahead, moved rows, retention,
deduplication through the key table, and queries with a time window that read only their months."""

import datetime as dt
import re
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from profiles.event_partitions import (
    DEFAULT_PARTITION,
    event_partitions_drop_before,
    event_partitions_ensure,
    month_after,
    month_start,
    partitions_list,
)
from profiles.event_store import STORE_COLUMNS, events_store
from profiles.models import Event, EventMessage, Profile, ProfileMerge
from profiles.selectors import TimelineFilter, profile_timeline, profile_timeline_events
from profiles.tasks import event_partitions_ensure_task
from segments.compiler import segment_queryset
from tests.factories import EventFactory, SourceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the event table is partitioned on PostgreSQL only")


def _months_back(n: int) -> dt.datetime:
    start = month_start(timezone.now())
    for _ in range(n):
        start = (start - dt.timedelta(days=1)).replace(day=1)
    return start


def _rows_in(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return cursor.fetchone()[0]


def _row(message_id: str, at: dt.datetime, **fields) -> tuple:
    values = {
        "message_id": message_id,
        "type": "track",
        "event": "Order Completed",
        "name": "",
        "user_id": fields.get("user_id", "u1"),
        "anonymous_id": "",
        "group_id": "",
        "previous_id": "",
        "traits": {},
        "properties": {},
        "context": {},
        "integrations": {},
        "timestamp": at,
        "original_timestamp": at,
        "sent_at": at,
    }
    return tuple(values[c] for c in STORE_COLUMNS)


def _scanned(sql_plan: str) -> set[str]:
    """The event table's partitions a plan reads (a bitmap index scan names its index instead:
    the heap scan above it names the partition)."""
    names = set(re.findall(r"\bon (profiles_event_\w+)", sql_plan))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND relkind IN ('r', 'p')",
            [list(names)],
        )
        return {name for (name,) in cursor.fetchall()}


def test_the_migration_made_this_month_three_ahead_and_a_default_partition():
    this = month_start(timezone.now())
    expected = [this]
    for _ in range(3):
        expected.append(month_after(expected[-1]))
    assert [p.start for p in partitions_list()] == expected
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE c.relname = %s",
            [DEFAULT_PARTITION],
        )
        assert cursor.fetchone()[0] == "DEFAULT"


def test_ensure_creates_past_months_moves_their_rows_from_the_default_and_runs_twice_safely():
    source = SourceFactory()
    old = _months_back(5) + dt.timedelta(days=3)
    older = _months_back(9) + dt.timedelta(days=3)
    for at in (old, old, older):
        EventFactory(source=source, timestamp=at)
    assert _rows_in(DEFAULT_PARTITION) == 3

    created = event_partitions_ensure(since=_months_back(6))
    assert created == [f"profiles_event_p{_months_back(n):%Y_%m}" for n in range(6, 0, -1)]
    assert _rows_in(f"profiles_event_p{old:%Y_%m}") == 2  # moved out of the default partition
    assert _rows_in(DEFAULT_PARTITION) == 1  # older than any partition: stays there
    assert Event.objects.count() == 3
    assert event_partitions_ensure(since=_months_back(6)) == []
    assert event_partitions_ensure_task.delay().get() == []  # the beat task: nothing missing
    # A new partition carries the table's indexes.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, count(*) FROM pg_indexes WHERE tablename = ANY(%s) "
            "GROUP BY tablename",
            [["profiles_event", f"profiles_event_p{old:%Y_%m}"]],
        )
        counts = dict(cursor.fetchall())
        assert counts == {"profiles_event": 6, f"profiles_event_p{old:%Y_%m}": 6}


def test_a_message_sent_again_with_another_time_is_stored_once():
    source = SourceFactory()
    now = timezone.now()
    first = events_store(source_id=source.pk, rows=[_row("m-1", now)], received_at=now)
    # The resend's corrected time falls in another month: another partition, same key.
    again = events_store(
        source_id=source.pk,
        rows=[_row("m-1", now - dt.timedelta(days=70)), _row("m-2", now), _row("m-2", now)],
        received_at=now,
    )
    assert (first.stored, first.duplicates) == (1, 0)
    assert (again.stored, again.duplicates) == (1, 2)
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["m-1", "m-2"]
    assert Event.objects.get(message_id="m-1").timestamp == now
    assert EventMessage.objects.filter(source_id=source.pk).count() == 2
    # Another source may use the same message id.
    other = SourceFactory()
    assert events_store(source_id=other.pk, rows=[_row("m-1", now)], received_at=now).stored == 1


def test_a_batch_keeps_the_first_of_a_repeated_message_id_in_order():
    source = SourceFactory()
    now = timezone.now()
    rows = [_row("a", now, user_id="first"), _row("b", now), _row("a", now, user_id="second")]
    assert events_store(source_id=source.pk, rows=rows, received_at=now).stored == 2
    a, b = Event.objects.order_by("id")
    assert (a.message_id, a.user_id, b.message_id) == ("a", "first", "b")


def test_retention_drops_whole_old_months_their_keys_and_merge_references():
    event_partitions_ensure(since=_months_back(4))
    source = SourceFactory()
    now = timezone.now()
    ancient = _months_back(30)  # before any partition: the default partition holds it
    rows = [
        _row("ancient", ancient),
        _row("four", _months_back(4) + dt.timedelta(days=1)),
        _row("three", _months_back(3) + dt.timedelta(days=20)),
        _row("now", now),
    ]
    events_store(source_id=source.pk, rows=rows, received_at=now)
    winner, loser = Profile.objects.create(), Profile.objects.create()
    merge = ProfileMerge.objects.create(
        winner=winner, loser=loser, event=Event.objects.get(message_id="four"), merged_at=now
    )

    # A date inside the month three back: that month is only partly older, and stays.
    cut = _months_back(3) + dt.timedelta(days=10)
    dropped = event_partitions_drop_before(before=cut)

    assert dropped == {f"profiles_event_p{_months_back(4):%Y_%m}": 1, DEFAULT_PARTITION: 1}
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["now", "three"]
    assert sorted(EventMessage.objects.values_list("message_id", flat=True)) == ["now", "three"]
    merge.refresh_from_db()
    assert merge.event_id is None
    assert f"profiles_event_p{_months_back(3):%Y_%m}" in {p.name for p in partitions_list()}
    assert event_partitions_drop_before(before=cut) == {}


def test_a_segment_window_reads_only_the_partitions_of_its_window():
    event_partitions_ensure(since=_months_back(12))
    now = timezone.now()
    condition = {
        "type": "event",
        "event": "Order Completed",
        "count": {"operator": "at_least", "value": 1},
    }
    last_30 = {"match": "all", "conditions": [{**condition, "window": {"last_days": 30}}]}
    plan = segment_queryset(last_30, now=now).explain()
    in_window = {
        p.name
        for p in partitions_list()
        if p.end > now - dt.timedelta(days=30)  # the window runs on into the months ahead
    }
    assert _scanned(plan) == in_window | {DEFAULT_PARTITION}

    closed = _months_back(7)
    between = {
        "from": (closed + dt.timedelta(days=2)).date().isoformat(),
        "to": (closed + dt.timedelta(days=12)).date().isoformat(),
    }
    dated = {"match": "all", "conditions": [{**condition, "window": between}]}
    assert _scanned(segment_queryset(dated, now=now).explain()) == {
        f"profiles_event_p{closed:%Y_%m}"
    }
    # Without a window every month is read.
    whole = {"match": "all", "conditions": [condition]}
    every = {p.name for p in partitions_list()} | {DEFAULT_PARTITION}
    assert len(every) == 12 + 1 + 3 + 1
    assert _scanned(segment_queryset(whole, now=now).explain()) == every


def test_the_timeline_pages_after_the_first_read_only_older_partitions():
    event_partitions_ensure(since=_months_back(12))
    profile = Profile.objects.create()
    cursor_at = _months_back(6) + dt.timedelta(days=5)
    filters = TimelineFilter(before=(cursor_at, 10**9))
    plan = profile_timeline_events(profile=profile, filters=filters).explain()
    older = {p.name for p in partitions_list() if p.start <= cursor_at}
    assert _scanned(plan) == older | {DEFAULT_PARTITION}
    assert profile_timeline(profile=profile, filters=filters) == ([], None)


@pytest.mark.django_db(transaction=True)
def test_two_requests_storing_one_message_at_once_store_it_once():
    source = SourceFactory()
    now = timezone.now()
    barrier = threading.Barrier(2)
    stored: list[int] = []
    errors: list[Exception] = []

    def send(offset: int) -> None:
        try:
            with transaction.atomic():
                barrier.wait(10)
                at = now - dt.timedelta(days=offset)  # another month for the second: no matter
                rows = [_row("same", at), _row(f"own-{offset}", at)]
                stored.append(events_store(source_id=source.pk, rows=rows, received_at=now).stored)
                time.sleep(0.2)  # the other statement now waits on this key until the commit
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(offset,)) for offset in (0, 40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(stored) == [1, 2]
    assert Event.objects.filter(source_id=source.pk, message_id="same").count() == 1
    assert Event.objects.filter(source_id=source.pk).count() == 3
