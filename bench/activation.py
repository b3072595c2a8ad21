"""Benchmark activation: a 1,000,000-profile audience synced to a local webhook receiver, a diff
run after 1% of it changed, and 100,000 events forwarded.

    .venv/bin/python bench/activation.py            # 1M profiles -> cdp_bench_activation
    .venv/bin/python bench/activation.py --quick    # 100k profiles, 10k events

The database (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/cdp_bench_activation, or
..._quick) is dropped, created and migrated; profiles with an e-mail, a name and a VIP trait are
generated server-side, 97% of them with an advertising consent; the VIP segment is computed with
the product's own refresh. The receiver is the webhook protocol server of the tests, in a process
of its own (it checks each request's signature and applies each Idempotency-Key once), so its
CPU is not the sync's. The runs go through `audience_sync_run_execute`, the worker's code path.

1. full: the first run sends every member with consent (plan + every batch + what is held).
2. diff: 1% of the members change (0.5% a mapped trait, 0.25% leave, 0.25% new ones enter); the
   segment is refreshed (not timed), then the run is timed end to end.
3. forward: events forwarded through the `segment_forward` connector to a receiver that speaks
   the tracking API's /v1/batch (skipped, and said so, without that connector).

Targets: full sync >= 20,000 records/s, the 1% diff run under 5 s, the receiver holding every
record exactly once. Output: name=value lines, headline last.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FULL = {"profiles": 1_000_000, "events": 100_000, "db": "cdp_bench_activation"}
QUICK = {"profiles": 100_000, "events": 10_000, "db": "cdp_bench_activation_quick"}
SECRET = "bench-signing-secret"  # noqa: S105
TARGET_RATE = 20_000.0
TARGET_DIFF_SECONDS = 5.0


# -- the receivers, each in a process of its own -------------------------------------------


def _webhook_receiver(conn) -> None:
    from tests.integrations.protocol_servers.scripted import Reply
    from tests.integrations.protocol_servers.webhook import WebhookReceiver

    class Counting(WebhookReceiver):
        def handle(self, request):
            if request.method == "GET":
                members = sum(len(m) for m in self.members.values())
                counts = self.message_ids.values()
                return Reply(
                    200,
                    {
                        "members": members,
                        "messages": sum(counts),
                        "max_per_message": max(counts, default=0),
                        "duplicate_batches": self.duplicate_batches,
                    },
                )
            return super().handle(request)

    server = Counting(secret=SECRET, keep_requests=False).start()
    conn.send(server.url)
    conn.recv()  # until told to stop
    server.stop()


def _tracking_receiver(conn) -> None:
    """A /v1/batch endpoint that counts messages by messageId (as a CDP deduplicates)."""
    from collections import Counter

    from tests.integrations.protocol_servers.scripted import Reply, ScriptedServer

    class Tracking(ScriptedServer):
        def __init__(self):
            super().__init__(keep_requests=False)
            self.ids = Counter()

        def handle(self, request):
            if request.method == "GET":
                return Reply(
                    200, {"messages": len(self.ids), "max": max(self.ids.values(), default=0)}
                )
            for message in request.json().get("batch", []):
                self.ids[message.get("messageId")] += 1
            return Reply(200, {"success": True})

    server = Tracking().start()
    conn.send(server.url)
    conn.recv()
    server.stop()


def _start(target):
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=target, args=(child,), daemon=True)
    process.start()
    return process, parent, parent.recv()


def _stats(url: str) -> dict:
    with urllib.request.urlopen(url + "/stats", timeout=30) as response:  # noqa: S310 (local)
        return json.loads(response.read())


# -- the database -----------------------------------------------------------------------------


def _database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "cdp_site.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ["CELERY_BROKER_URL"] = "memory://"
    import django

    django.setup()


def _generate(profiles: int, events: int) -> None:
    """Profiles (VIP, e-mail, name), their e-mail identities, advertising consent for 97%, and
    `events` track events: server-side INSERT ... SELECT."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO profiles_profile (traits, trait_meta, first_seen, last_seen, created_at,"
            " updated_at) SELECT jsonb_build_object('vip', true, 'first_name', 'Name ' || g,"
            " 'last_name', 'L' || mod(g, 997)), '{}'::jsonb, now(), now(), now(), now()"
            " FROM generate_series(1, %s) g",
            [profiles],
        )
        cursor.execute(
            "INSERT INTO profiles_identity (kind, value, profile_id, first_seen, last_seen)"
            " SELECT 'email', 'person' || id || '@example.com', id, now(), now()"
            " FROM profiles_profile"
        )
        cursor.execute(
            "INSERT INTO compliance_consentrecord (profile_id, purpose_id, granted, recorded_at,"
            " evidence) SELECT p.id, c.id, true, now() - interval '1 day', '{}'::jsonb"
            " FROM profiles_profile p, compliance_consentpurpose c"
            " WHERE c.key = 'advertising' AND mod(p.id, 100) >= 3"
        )
        cursor.execute(
            "INSERT INTO profiles_event (source_id, message_id, type, event, name, user_id,"
            " anonymous_id, group_id, previous_id, traits, properties, context, integrations,"
            " timestamp, received_at, profile_id) SELECT 1, 'bench-' || g, 'track',"
            " CASE WHEN mod(g, 4) = 0 THEN 'Order Completed' ELSE 'Product Viewed' END, '',"
            " 'user-' || mod(g, 50000), '', '', '', '{}'::jsonb,"
            " jsonb_build_object('price', mod(g, 100)), '{}'::jsonb, '{}'::jsonb, now(), now(),"
            " NULL FROM generate_series(1, %s) g",
            [events],
        )
        cursor.execute("ANALYZE")


def _members_insert(segment) -> None:
    """The VIP segment's memberships, as its refresh would write them (one INSERT ... SELECT).

    Set up in SQL: the first full refresh of a new segment over a freshly loaded table is not
    what this benchmark measures (and took minutes on this machine)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO segments_segmentmembership (segment_id, profile_id, entered_at, version)"
            " SELECT %s, id, now(), 1 FROM profiles_profile WHERE traits -> 'vip' = 'true'::jsonb",
            [segment.pk],
        )
        cursor.execute("ANALYZE segments_segmentmembership")


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def _timed_run(sync) -> tuple[float, float, object]:
    from integrations.activation.runner import audience_sync_run_execute, audience_sync_run_start
    from integrations.models import SyncRun

    started, cpu = time.monotonic(), _cpu()
    # Tasks run inline (CELERY_TASK_ALWAYS_EAGER): the start publishes the run's task, which
    # delivers it before the start returns.
    run = audience_sync_run_start(sync=sync, trigger=SyncRun.Trigger.MANUAL)
    run = audience_sync_run_execute(run.pk) or SyncRun.objects.get(pk=run.pk)
    elapsed = time.monotonic() - started
    if run.status != SyncRun.Status.SUCCEEDED:
        raise SystemExit(f"run failed: {run.message}")
    return elapsed, _cpu() - cpu, run


def _change_one_percent(segment, profiles: int, offset: int = 0) -> None:
    from django.db import connection

    from segments.services import segment_refresh

    step = 200  # 0.5% of profiles: a mapped trait changes
    with connection.cursor() as cursor:
        cursor.execute(
            # As the profiles app writes traits: updated_at with them.
            "UPDATE profiles_profile SET traits = traits || jsonb_build_object('first_name',"
            " 'Renamed ' || id || '-' || %s), updated_at = now() WHERE mod(id, %s) = %s",
            [offset, step, 50 + offset],
        )
        cursor.execute(
            "UPDATE profiles_profile SET traits = traits || '{\"vip\": false}'::jsonb,"
            " updated_at = now() WHERE mod(id, 400) = %s",
            [77 + offset],
        )
    new_ids = _generate_newcomers(profiles // 400)
    # The real-time path: only the profiles that changed are re-evaluated.
    for chunk in range(0, len(changed := _changed_ids() + new_ids), 5000):
        segment_refresh(segment_id=segment.pk, profile_ids=changed[chunk : chunk + 5000])


def _changed_ids() -> list[int]:
    from profiles.models import Profile

    return list(Profile.objects.filter(traits__vip=False).values_list("pk", flat=True))


def _generate_newcomers(count: int) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "WITH new AS (INSERT INTO profiles_profile (traits, trait_meta, first_seen, last_seen,"
            " created_at, updated_at) SELECT jsonb_build_object('vip', true, 'first_name', 'New '"
            " || g), '{}'::jsonb, now(), now(), now(), now() FROM generate_series(1, %s) g"
            " RETURNING id), ids AS (INSERT INTO profiles_identity (kind, value, profile_id,"
            " first_seen, last_seen) SELECT 'email', 'new' || id || '@example.com', id, now(),"
            " now() FROM new RETURNING profile_id) INSERT INTO compliance_consentrecord"
            " (profile_id, purpose_id, granted, recorded_at, evidence) SELECT ids.profile_id,"
            " c.id, true, now(), '{}'::jsonb FROM ids, compliance_consentpurpose c"
            " WHERE c.key = 'advertising' RETURNING profile_id",
            [count],
        )
        return [row[0] for row in cursor.fetchall()]


def _forward(events: int, out: dict) -> None:
    from integrations.activation.forwarding import (
        event_forward_create,
        event_forward_run_execute,
        event_forward_run_start,
    )
    from integrations.activation.services import destination_create
    from integrations.connectors.registry import connector_class
    from integrations.models import SyncRun

    try:
        connector_class("segment_forward", kind="destination")
    except Exception:
        out["forward"] = "skipped (no segment_forward connector installed)"
        return
    process, conn, url = _start(_tracking_receiver)
    try:
        from integrations.activation.config import config_split

        cls = connector_class("segment_forward", kind="destination")
        values = {}
        for spec in cls.fields:
            if spec.kind == "url":
                values[spec.name] = url
            elif spec.is_secret and spec.required:
                values[spec.name] = "bench-write-key"
        config_split(cls, values)
        destination = destination_create(kind="segment_forward", name="Forward", values=values)
        forward = event_forward_create(
            destination=destination, source_ids=[], types=["track"], names=[]
        )
        started, cpu = time.monotonic(), _cpu()
        run = event_forward_run_start(forward=forward, trigger=SyncRun.Trigger.MANUAL)
        run = event_forward_run_execute(run.pk) or SyncRun.objects.get(pk=run.pk)
        elapsed = time.monotonic() - started
        stats = _stats(url)
        out["forward_events"] = str(run.records_stored)
        out["forward_seconds"] = f"{elapsed:.2f}"
        out["forward_events_per_second"] = f"{events / elapsed:,.0f}"
        out["forward_cpu_seconds"] = f"{_cpu() - cpu:.1f}"
        out["forward_received_once"] = str(stats["messages"] == events and stats["max"] == 1)
        out["forward_status"] = run.status
    finally:
        conn.send("stop")
        process.join(10)


def diff_again(url: str, profiles: int, offset: int) -> None:
    """--diff-again N: on the database a full run left (its audience held), change another 1%
    and time the diff run alone, to a fresh receiver."""
    _setup_django(url)
    from integrations.activation.services import destination_update
    from integrations.models import AudienceSync

    sync = AudienceSync.objects.select_related("destination", "segment").get(
        destination__name="Bench webhook"
    )
    process, conn, receiver = _start(_webhook_receiver)
    try:
        destination_update(
            destination=sync.destination,
            name=sync.destination.name,
            values={"url": receiver + "/hook", "batch_size": 5000},
        )
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        _change_one_percent(sync.segment, profiles, offset=offset)
        load = os.getloadavg()[0]
        elapsed, cpu, run = _timed_run(sync)
        stats = _stats(receiver)
    finally:
        conn.send("stop")
        process.join(10)
    print(f"diff_added_or_updated={run.records_entered:,}")
    print(f"diff_removed={run.records_exited:,}")
    print(f"diff_cpu_seconds_sync_process={cpu:.1f}")
    print(f"diff_load_before={load:.2f}")
    print(
        f"received_once={stats['max_per_message'] == 1 and stats['messages'] == run.records_stored}"
    )
    print(f"headline=1% diff run {elapsed:.2f} s (target < {TARGET_DIFF_SECONDS:g} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--diff-again",
        type=int,
        metavar="N",
        help="reuse the database of a previous run: change another 1%% (N = 1, 2...) and time "
        "the diff run alone",
    )
    args = parser.parse_args()
    shape = QUICK if args.quick else FULL
    url = os.environ.get("DATABASE_URL") or f"postgres://postgres@127.0.0.1:5432/{shape['db']}"
    if "_bench" not in url.rsplit("/", 1)[1]:
        raise SystemExit("refusing to drop a database whose name has no _bench in it")
    if args.diff_again:
        diff_again(url, shape["profiles"], offset=args.diff_again)
        return
    _database(url)
    _setup_django(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    out: dict[str, str] = {"profiles": f"{shape['profiles']:,}"}
    began = time.monotonic()
    _generate(shape["profiles"], shape["events"])
    from integrations.activation.services import audience_sync_create, destination_create
    from segments.models import Segment

    segment = Segment.objects.create(
        name="VIPs",
        definition={
            "match": "all",
            "conditions": [{"type": "trait", "trait": "vip", "operator": "is_true"}],
        },
    )
    _members_insert(segment)
    out["setup_seconds"] = f"{time.monotonic() - began:.1f}"
    process, conn, receiver = _start(_webhook_receiver)
    try:
        destination = destination_create(
            kind="webhook",
            name="Bench webhook",
            values={"url": receiver + "/hook", "signing_secret": SECRET, "batch_size": 5000},
        )
        sync = audience_sync_create(
            user=None,
            segment=segment,
            destination=destination,
            field_mapping={"email": "identifier:email", "first_name": "trait:first_name"},
            consent_purpose="advertising",
        )
        load = os.getloadavg()[0]
        elapsed, cpu, run = _timed_run(sync)
        stats = _stats(receiver)
        out["full_sent"] = f"{run.records_stored:,}"
        out["full_left_out"] = f"{run.records_left_out:,}"
        out["full_seconds"] = f"{elapsed:.2f}"
        out["full_cpu_seconds_sync_process"] = f"{cpu:.1f}"
        out["full_load_before"] = f"{load:.2f}"
        out["full_receiver_holds"] = f"{stats['members']:,}"
        full_rate = run.records_stored / elapsed
        # The statistics autovacuum would have gathered by the next run, in a deployment.
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

        _change_one_percent(segment, shape["profiles"])
        load = os.getloadavg()[0]
        elapsed, cpu, run = _timed_run(sync)
        stats = _stats(receiver)
        out["diff_added_or_updated"] = f"{run.records_entered:,}"
        out["diff_removed"] = f"{run.records_exited:,}"
        out["diff_cpu_seconds_sync_process"] = f"{cpu:.1f}"
        out["diff_load_before"] = f"{load:.2f}"
        out["receiver_holds"] = f"{stats['members']:,}"
        from integrations.models import AudienceSyncMember

        held = AudienceSyncMember.objects.filter(sync=sync).count()
        out["exactly_once"] = str(stats["max_per_message"] == 1 and stats["members"] == held)
        out["diff_seconds"] = f"{elapsed:.2f}"
        diff_seconds = elapsed
    finally:
        conn.send("stop")
        process.join(10)
    _forward(shape["events"], out)
    out["full_sync_records_per_second"] = f"{full_rate:,.0f}"
    out["targets_met"] = str(full_rate >= TARGET_RATE and diff_seconds < TARGET_DIFF_SECONDS)
    out["headline"] = (
        f"full sync {full_rate:,.0f} records/s (target {TARGET_RATE:,.0f}), "
        f"1% diff run {diff_seconds:.2f} s (target < {TARGET_DIFF_SECONDS:g} s)"
    )
    for name, value in out.items():
        print(f"{name}={value}")


if __name__ == "__main__":
    main()
