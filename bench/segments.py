"""Benchmark the segment compiler: preview counts of realistic definitions vs hand-written SQL.

    .venv/bin/python bench/segments.py            # cdp_bench (1M profiles, 10M events)
    .venv/bin/python bench/segments.py --quick    # cdp_bench_quick (100k profiles, 1M events)

Build the data first with bench/dataset.py. For each definition the compiler's count query
(`segment_count`, what the builder's live count and the API run) and the best SQL written by hand
for the same question, under the same session settings (`heavy_query_transaction`: no JIT, 64 MB
work_mem), are each run once to warm the cache, then `--runs` times alternately; the median and
the best run are reported, and the ratio is taken between the best runs (the machine is shared,
and the best run is the least disturbed one). Both must return the same count. The hand-written
queries read the raw events; the compiler reads the event aggregates where they give the same
answer (once built: `bench/insights_traits.py` builds them), so `<name>_speedup_vs_raw` says how
much faster the compiler's preview is than the best SQL over raw events. Targets: every preview
under 500 ms, and the compiler never slower than 1.25x the hand-written query. Output:
name=value lines, headline last.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_MS = 500.0
TARGET_RATIO = 1.25

VIP = {
    "match": "any",
    "conditions": [
        {"type": "trait", "trait": "vip", "operator": "is_true"},
        {"type": "trait", "trait": "lifetime_value", "operator": "greater_than", "value": 2000},
    ],
}


def definitions(vip_id: int) -> dict[str, dict]:
    return {
        "trait_only": {
            "match": "all",
            "conditions": [
                {"type": "trait", "trait": "country", "operator": "equals", "value": "DE"},
                {
                    "type": "trait",
                    "trait": "plan",
                    "operator": "in",
                    "value": ["pro", "enterprise"],
                },
                {
                    "type": "trait",
                    "trait": "lifetime_value",
                    "operator": "greater_than",
                    "value": 500,
                },
            ],
        },
        "event_window_filter": {
            "match": "all",
            "conditions": [
                {
                    "type": "event",
                    "event": "Order Completed",
                    "count": {"operator": "at_least", "value": 2},
                    "window": {"last_days": 90},
                    "where": [{"property": "revenue", "operator": "greater_than", "value": 100}],
                }
            ],
        },
        "nested_with_segment": {
            "match": "all",
            "conditions": [
                {
                    "type": "group",
                    "match": "any",
                    "conditions": [
                        {
                            "type": "trait",
                            "trait": "country",
                            "operator": "in",
                            "value": ["DE", "AT", "CH"],
                        },
                        {
                            "type": "trait",
                            "trait": "city",
                            "operator": "starts_with",
                            "value": "Lon",
                        },
                    ],
                },
                {"type": "consent", "purpose": "email_marketing"},
                {"type": "segment", "segment": vip_id, "negate": True},
                {
                    "type": "group",
                    "match": "any",
                    "conditions": [
                        {
                            "type": "event",
                            "event": "Email Opened",
                            "window": {"last_days": 30},
                        },
                        {
                            "type": "event",
                            "event": "Product Viewed",
                            "count": {"operator": "at_least", "value": 3},
                            "window": {"last_days": 30},
                        },
                    ],
                },
            ],
        },
        "lapsed_buyers": {
            "match": "all",
            "conditions": [
                {"type": "event", "event": "Order Completed", "window": {"last_days": 730}},
                {
                    "type": "event",
                    "event": "Order Completed",
                    "count": {"operator": "exactly", "value": 0},
                    "window": {"last_days": 180},
                },
                {
                    "type": "trait",
                    "trait": "churn_risk",
                    "operator": "greater_or_equal",
                    "value": 0.5,
                },
            ],
        },
    }


NUM = "CASE WHEN jsonb_typeof({c} -> '{k}') = 'number' THEN ({c} ->> '{k}')::float8 END"

# The best SQL a person would write for the same questions (same semantics: case-insensitive
# text, numbers only when the JSON value is a number, latest consent record decides).
HAND_WRITTEN = {
    "trait_only": f"""
        SELECT count(*) FROM profiles_profile p
        WHERE p.merged_into_id IS NULL
          AND lower(p.traits ->> 'country') = 'de'
          AND lower(p.traits ->> 'plan') IN ('pro', 'enterprise')
          AND {NUM.format(c="p.traits", k="lifetime_value")} > 500
    """,
    "event_window_filter": f"""
        SELECT count(*) FROM profiles_profile p
        JOIN (
            SELECT e.profile_id FROM profiles_event e
            WHERE e.event = 'Order Completed' AND e.timestamp >= %(now)s - interval '90 days'
              AND {NUM.format(c="e.properties", k="revenue")} > 100
            GROUP BY e.profile_id HAVING count(*) >= 2
        ) buyers ON buyers.profile_id = p.id
        WHERE p.merged_into_id IS NULL
    """,
    "nested_with_segment": f"""
        SELECT count(*) FROM profiles_profile p
        WHERE p.merged_into_id IS NULL
          AND (lower(p.traits ->> 'country') IN ('de', 'at', 'ch')
               OR lower(p.traits ->> 'city') LIKE 'lon%%')
          AND NOT (coalesce(p.traits -> 'vip' = 'true'::jsonb, false)
                   OR coalesce({NUM.format(c="p.traits", k="lifetime_value")} > 2000, false))
          AND p.id IN (
            SELECT c.profile_id FROM compliance_consentrecord c
            WHERE c.granted AND c.purpose_id = (
                SELECT id FROM compliance_consentpurpose WHERE key = 'email_marketing')
              AND NOT EXISTS (
                SELECT 1 FROM compliance_consentrecord later
                WHERE later.profile_id = c.profile_id AND later.purpose_id = c.purpose_id
                  AND (later.recorded_at > c.recorded_at
                       OR (later.recorded_at = c.recorded_at AND later.id > c.id))))
          AND p.id IN (
            SELECT profile_id FROM profiles_event
            WHERE event = 'Email Opened' AND timestamp >= %(now)s - interval '30 days'
            UNION ALL
            SELECT profile_id FROM profiles_event
            WHERE event = 'Product Viewed' AND timestamp >= %(now)s - interval '30 days'
            GROUP BY profile_id HAVING count(*) >= 3)
    """,
    "lapsed_buyers": f"""
        SELECT count(*) FROM profiles_profile p
        WHERE p.merged_into_id IS NULL
          AND {NUM.format(c="p.traits", k="churn_risk")} >= 0.5
          AND EXISTS (SELECT 1 FROM profiles_event e WHERE e.profile_id = p.id
                      AND e.event = 'Order Completed'
                      AND e.timestamp >= %(now)s - interval '730 days')
          AND NOT EXISTS (SELECT 1 FROM profiles_event e WHERE e.profile_id = p.id
                          AND e.event = 'Order Completed'
                          AND e.timestamp >= %(now)s - interval '180 days')
    """,
}


def _time(fn) -> tuple[float, int]:
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    db = "cdp_bench_quick" if args.quick else "cdp_bench"
    os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{db}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp_site.settings")
    import django

    django.setup()
    from django.db import connection

    from cdp_site.db import heavy_query_transaction
    from profiles.models import Profile
    from profiles.selectors import event_aggregates_ready
    from segments.models import Segment
    from segments.selectors import segment_count

    with connection.cursor() as cursor:
        cursor.execute("SELECT profiles, events FROM bench_dataset WHERE name = 'main'")
        profiles, events = cursor.fetchone()
    vip, _ = Segment.objects.update_or_create(name="Benchmark: VIP", defaults={"definition": VIP})
    now = dt.datetime.now(dt.UTC)
    print(f"profiles={profiles}")
    print(f"events={events}")
    print(f"active_profiles={Profile.objects.filter(merged_into__isnull=True).count()}")
    print(f"event_aggregates={'built' if event_aggregates_ready() else 'not built'}")
    print(f"load_before={os.getloadavg()[0]:.2f}")
    worst_ms, worst_ratio, failures = 0.0, 0.0, []
    for name, definition in definitions(vip.pk).items():

        def compiled(definition=definition):
            return segment_count(definition, now=now)

        def hand(name=name):
            with heavy_query_transaction(), connection.cursor() as cursor:
                cursor.execute(HAND_WRITTEN[name], {"now": now})
                return cursor.fetchone()[0]

        _ms, count_compiled = _time(compiled)
        _ms, count_hand = _time(hand)
        if count_compiled != count_hand:
            failures.append(f"{name}: compiler {count_compiled} != hand-written {count_hand}")
        compiled_ms, hand_ms = [], []
        for _ in range(args.runs):
            compiled_ms.append(_time(compiled)[0])
            hand_ms.append(_time(hand)[0])
        c_ms, h_ms = min(compiled_ms), min(hand_ms)
        ratio = c_ms / h_ms if h_ms else 0.0
        worst_ms, worst_ratio = max(worst_ms, c_ms), max(worst_ratio, ratio)
        print(f"{name}_count={count_compiled}")
        print(f"{name}_compiler_ms={c_ms:.1f}")
        print(f"{name}_compiler_median_ms={statistics.median(compiled_ms):.1f}")
        print(f"{name}_handwritten_ms={h_ms:.1f}")
        print(f"{name}_handwritten_median_ms={statistics.median(hand_ms):.1f}")
        print(f"{name}_ratio={ratio:.2f}")
        print(f"{name}_speedup_vs_raw={(h_ms / c_ms if c_ms else 0.0):.2f}")
    for failure in failures:
        print(f"count_mismatch={failure}")
    print(f"load_after={os.getloadavg()[0]:.2f}")
    met = worst_ms < TARGET_MS and worst_ratio <= TARGET_RATIO and not failures
    print(f"targets_met={'yes' if met else 'no'}")
    print(
        f"headline=slowest preview {worst_ms:.0f} ms (target < {TARGET_MS:.0f} ms), "
        f"worst compiler/hand-written ratio {worst_ratio:.2f}x (target <= {TARGET_RATIO}x) "
        f"on {profiles} profiles and {events} events, load {os.getloadavg()[0]:.2f}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
