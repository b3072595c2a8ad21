"""Benchmark computed traits: the full recompute of the built-in traits, and the incremental one
after 10,000 new events.

    .venv/bin/python bench/insights_traits.py            # cdp_bench (1M profiles, 10M events)
    .venv/bin/python bench/insights_traits.py --quick    # cdp_bench_quick (100k, 1M)

The database comes from DATABASE_URL (default as above); build it first with bench/dataset.py.
Steps: build the event aggregates over every event (once: they are kept from then on), the full
recompute of every built-in computed trait for every profile (what the scheduled job runs), then
10,000 new events attached to existing profiles as resolution attaches them, and what resolution's
announcement costs for them: the aggregates of their days (inline) and the computed traits of
their profiles (the task it queues). The new events are removed afterwards, and their profiles
recomputed, so a second run measures the same thing. Each figure has the load average and the
CPU seconds of this process and of its database backend beside it (parallel query workers are
not counted). Targets: full < 60 s, incremental < 2 s. Output: name=value lines, headline last.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import cpu_by_pid  # noqa: E402

FULL_TARGET_S = 60.0
INCREMENTAL_TARGET_S = 2.0
NEW_EVENTS = 10_000


class Meter:
    """Wall time, load average and CPU seconds (this process + its database backend)."""

    def __init__(self, backend_pid: int):
        self.backend_pid = backend_pid

    def _cpu(self) -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        return own.ru_utime + own.ru_stime + cpu_by_pid([self.backend_pid]).get(self.backend_pid, 0)

    def measure(self, name: str, fn) -> float:
        cpu, started = self._cpu(), time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - started
        print(f"{name}_s={seconds:.2f}")
        print(f"{name}_cpu_s={self._cpu() - cpu:.2f}")
        print(f"{name}_load={os.getloadavg()[0]:.2f}")
        if isinstance(result, dict) and "profiles" in result:
            print(f"{name}_profiles_written={result['profiles']}")
        return seconds


def _insert_new_events(count: int) -> tuple[list[int], tuple]:
    """`count` orders and page views of existing profiles in the last hour, attached to them."""
    from cdp_site import db

    rows = db.fetchall(
        """
        WITH p AS (
            SELECT array_agg(id) AS ids FROM (
                SELECT id FROM profiles_profile WHERE merged_into_id IS NULL
                ORDER BY random() LIMIT %s
            ) s
        ), picked AS (
            SELECT p.ids[1 + floor(random() * array_length(p.ids, 1))::int] AS profile_id, g
            FROM p, generate_series(1, %s) g
        )
        INSERT INTO profiles_event (source_id, message_id, type, event, name, user_id,
            anonymous_id, group_id, previous_id, traits, properties, context, integrations,
            "timestamp", received_at, profile_id, resolved_at)
        SELECT 0, 'bench-traits-' || g, 'track',
               CASE WHEN g %% 10 = 0 THEN 'Order Completed' ELSE 'Product Viewed' END, '', '',
               'bench-' || g, '', '', '{}',
               CASE WHEN g %% 10 = 0 THEN jsonb_build_object('revenue', (g %% 300) + 0.5)
                    ELSE '{}'::jsonb END,
               '{}', '{}', now() - (g %% 3600) * interval '1 second', now(), profile_id, now()
        FROM picked
        RETURNING id, "timestamp"
        """,
        [count // 2, count],
    )
    ids = [row[0] for row in rows]
    times = [row[1] for row in rows]
    return ids, (min(times), max(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--rebuild-aggregates", action="store_true", help="build the aggregates even if built"
    )
    args = parser.parse_args(argv)
    db_name = "cdp_bench_quick" if args.quick else "cdp_bench"
    os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{db_name}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp_site.settings")
    import django

    django.setup()
    from django.db import connection, transaction

    from cdp_site import db
    from profiles.aggregates import (
        aggregates_built,
        aggregates_rebuild,
        aggregates_refresh_events,
        aggregates_refresh_pairs,
        event_pairs,
    )
    from profiles.computed_traits import computed_traits_compute
    from profiles.models import ComputedTrait

    with connection.cursor() as cursor:
        cursor.execute("SELECT profiles, events FROM bench_dataset WHERE name = 'main'")
        profiles, events = cursor.fetchone()
        cursor.execute("SELECT pg_backend_pid()")
        meter = Meter(cursor.fetchone()[0])
    print(f"profiles={profiles}")
    print(f"events={events}")
    if args.rebuild_aggregates or not aggregates_built():
        meter.measure("aggregates_build", aggregates_rebuild)
    builtins = list(ComputedTrait.objects.filter(builtin=True).values_list("pk", flat=True))
    print(f"builtin_traits={len(builtins)}")
    full = meter.measure("full_recompute", lambda: computed_traits_compute(trait_ids=builtins))
    for trait in ComputedTrait.objects.filter(builtin=True).order_by("key"):
        print(f"full_recompute_{trait.key}_ms={trait.last_duration_ms}")

    with transaction.atomic():
        ids, between = _insert_new_events(NEW_EVENTS)
    touched = sorted(
        {
            row[0]
            for row in db.fetchall(
                "SELECT DISTINCT profile_id FROM profiles_event WHERE id = ANY(%s::bigint[]) "
                'AND "timestamp" BETWEEN %s AND %s',
                [db.bigint_array(ids), between[0], between[1]],
            )
        }
    )
    print(f"new_events={len(ids)}")
    print(f"new_events_profiles={len(touched)}")

    # What resolution's announcement of these events runs: the aggregates of their days,
    # inline; then the task it queues, for their profiles.
    inc = meter.measure(
        "incremental_aggregates",
        lambda: aggregates_refresh_events(event_ids=ids, between=between),
    )
    inc += meter.measure("incremental_traits", lambda: computed_traits_compute(profile_ids=touched))
    print(f"incremental_recompute_s={inc:.2f}")
    with transaction.atomic():
        pairs = event_pairs(event_ids=ids, between=between)
        db.execute(
            "DELETE FROM profiles_event WHERE id = ANY(%s::bigint[]) "
            'AND "timestamp" BETWEEN %s AND %s',
            [db.bigint_array(ids), between[0], between[1]],
        )
        aggregates_refresh_pairs(pairs=pairs)
    computed_traits_compute(profile_ids=touched)

    met = full < FULL_TARGET_S and inc < INCREMENTAL_TARGET_S
    print(f"targets_met={'yes' if met else 'no'}")
    print(
        f"headline=full recompute of {len(builtins)} built-in computed traits {full:.1f} s "
        f"(target < {FULL_TARGET_S:.0f} s), incremental after {len(ids)} new events "
        f"{inc:.2f} s (target < {INCREMENTAL_TARGET_S:.0f} s) on {profiles} profiles and "
        f"{events} events, load {os.getloadavg()[0]:.2f}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
