"""Build the benchmark dataset: realistic profiles, identities, events and consent, in bulk SQL.

    .venv/bin/python bench/dataset.py          # 1M profiles, 10M events -> cdp_bench
    .venv/bin/python bench/dataset.py --quick  # 100k profiles, 1M events -> cdp_bench_quick
    .venv/bin/python bench/dataset.py --force    # rebuild even if the marker says it is built

The database comes from DATABASE_URL (default postgres://postgres@127.0.0.1:5432/cdp_bench, or
.../cdp_bench_quick with --quick); it is created if missing and migrated first. Rows are generated
server-side with generate_series in a handful of INSERT ... SELECT statements; indexes and
constraints of the loaded tables are dropped during the load and recreated after (much faster than
maintaining them row by row), then VACUUM ANALYZE.
A marker table `bench_dataset` records what was built, so a second run returns at once.

Data shape: 2 years of history ending now. Profile ids are picked for events with a skew (a few
heavy users, a long tail), page views dominate, about 6% of events are orders with revenue,
currency and product; traits hold e-mail, name, phone, country, city, plan, signup date and the
computed traits lifetime_value, orders_count and churn_risk (a few profiles hold a non-numeric
lifetime_value, as real imports do); 0.5% of profiles are merged away; 60% of profiles have an
e-mail marketing consent record, a tenth of them changed their mind later.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FULL = {"profiles": 1_000_000, "events": 10_000_000, "db": "cdp_bench"}
QUICK = {"profiles": 100_000, "events": 1_000_000, "db": "cdp_bench_quick"}
LOADED_TABLES = (
    "profiles_profile",
    "profiles_identity",
    "profiles_event",
    "compliance_consentrecord",
)
SOURCE_NAME = "Benchmark data"


def _setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp_site.settings")
    import django

    django.setup()


def _ensure_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def _log(message: str, started: float) -> None:
    print(f"[{time.monotonic() - started:7.1f}s] {message}", flush=True)


def _drop_indexes_and_constraints(cursor) -> list[str]:
    """Drop every index and constraint (but primary keys) of the loaded tables; return their DDL."""
    statements = []
    cursor.execute(
        """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE conrelid::regclass::text = ANY(%s) AND contype IN ('u', 'f', 'c')
        """,
        [list(LOADED_TABLES)],
    )
    for table, name, definition in cursor.fetchall():
        statements.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    cursor.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary
        """,
        [list(LOADED_TABLES)],
    )
    for name, definition in cursor.fetchall():
        # A partitioned table's index reads "ON ONLY": re-created whole, on every partition.
        statements.append(definition.replace(" ON ONLY ", " ON "))
        cursor.execute(f"DROP INDEX {name}")
    # Foreign keys last, after the unique indexes they may rely on.
    statements.sort(key=lambda ddl: "FOREIGN KEY" in ddl)
    return statements


PROFILES_SQL = """
INSERT INTO profiles_profile
    (id, traits, trait_meta, first_seen, last_seen, merged_into_id, created_at, updated_at)
SELECT g,
    jsonb_strip_nulls(jsonb_build_object(
        'email', 'customer' || g || '@' || (ARRAY['example.com','mail.test','shop.example',
            'inbox.test'])[1 + g %% 4],
        'name', (ARRAY['Anna','Ben','Clara','David','Emma','Felix','Greta','Hugo','Ida','Jonas',
            'Lena','Max','Nora','Oskar','Paula','Rosa'])[1 + (g * 7) %% 16] || ' ' ||
            (ARRAY['Müller','Schmidt','Martin','Bernard','Rossi','García','Smith','Jones',
            'Dubois','Novak','Jensen','Silva'])[1 + (g * 13) %% 12],
        'phone', CASE WHEN g %% 3 <> 0
            THEN '+4915' || lpad((g::bigint * 7919 %% 100000000)::text, 8, '0') END,
        'country', (ARRAY['DE','DE','DE','FR','FR','GB','GB','US','US','US','NL','ES','IT',
            'AT','CH','PL'])[1 + (hashint4(g) & 15)],
        'city', (ARRAY['Berlin','Hamburg','Munich','Paris','Lyon','London','Leeds','New York',
            'Austin','Amsterdam','Madrid','Milan','Vienna','Zurich','Warsaw','Cologne'])
            [1 + ((hashint4(g) >> 4) & 15)],
        'plan', (ARRAY['free','free','free','free','basic','basic','pro','enterprise'])
            [1 + ((hashint4(g) >> 8) & 7)],
        'signup_date', to_char(now() - ((hashint4(g * 3) & 1023) %% 1095) * interval '1 day',
            'YYYY-MM-DD'),
        'lifetime_value', CASE WHEN g %% 1000 = 7 THEN to_jsonb('unknown'::text)
            ELSE to_jsonb(round(
                (((hashint4(g * 5) & 65535) / 65535.0::float8) ^ 3 * 5000)::numeric, 2))
            END,
        'orders_count', (((hashint4(g * 5) & 65535) / 65535.0::float8) ^ 3 * 40)::int,
        'churn_risk', round(((hashint4(g * 11) & 1023) / 1023.0)::numeric, 3),
        'newsletter', (hashint4(g * 17) & 1) = 1,
        'vip', CASE WHEN g %% 97 = 0 THEN true END
    )),
    '{}'::jsonb,
    now() - interval '730 days' + ((hashint4(g * 3) & 1023) %% 365) * interval '1 day',
    now() - ((hashint4(g * 19) & 1023) %% 200) * interval '1 day',
    NULL, now(), now()
FROM generate_series(1, %(profiles)s) AS g
"""

MERGED_SQL = """
UPDATE profiles_profile SET merged_into_id = id - 1
WHERE id %% 200 = 0
"""

IDENTITIES_SQL = """
INSERT INTO profiles_identity (kind, value, profile_id, source_id, first_seen, last_seen)
SELECT 'email', traits->>'email', id, NULL::bigint, first_seen, last_seen
FROM profiles_profile WHERE merged_into_id IS NULL
UNION ALL
SELECT 'user_id', 'u' || id, id, NULL, first_seen, last_seen
FROM profiles_profile WHERE id %% 10 < 7 AND merged_into_id IS NULL
UNION ALL
SELECT 'anonymous_id', md5('anon' || id), id, NULL, first_seen, last_seen
FROM profiles_profile WHERE merged_into_id IS NULL
"""

# One random stream per event row; the event kind comes from its low bits.
EVENTS_SQL = """
INSERT INTO profiles_event
    (source_id, message_id, type, event, name, user_id, anonymous_id, group_id, previous_id,
     traits, properties, context, integrations, timestamp, original_timestamp, sent_at,
     received_at, profile_id, resolved_at)
SELECT %(source)s, 'bench-' || g,
    CASE WHEN k < 55 THEN 'page' ELSE 'track' END,
    CASE WHEN k < 55 THEN ''
         WHEN k < 75 THEN 'Product Viewed'
         WHEN k < 81 THEN 'Order Completed'
         WHEN k < 86 THEN 'Product Added'
         WHEN k < 96 THEN 'Email Opened'
         WHEN k < 98 THEN 'Email Clicked'
         ELSE 'Ticket Opened' END,
    CASE WHEN k < 55 THEN (ARRAY['Home','Product','Category','Cart','Checkout','Help','Blog',
        'Account'])[1 + (r & 7)] ELSE '' END,
    CASE WHEN p %% 10 < 7 THEN 'u' || p ELSE '' END,
    md5('anon' || p), '', '',
    '{}'::jsonb,
    CASE
      WHEN k < 55 THEN jsonb_build_object('path', '/' || lower((ARRAY['home','product',
        'category','cart','checkout','help','blog','account'])[1 + (r & 7)]),
        'referrer', (ARRAY['google','newsletter','direct','facebook'])[1 + ((r >> 3) & 3)])
      WHEN k < 75 OR (k >= 81 AND k < 86) THEN jsonb_build_object(
        'product_id', 'sku-' || ((r >> 3) & 1023),
        'category', (ARRAY['shoes','shirts','bags','hats','jackets','socks','watches',
            'belts'])[1 + ((r >> 13) & 7)],
        'price', round((5 + ((r >> 16) & 255) * 1.5)::numeric, 2))
      WHEN k < 81 THEN jsonb_strip_nulls(jsonb_build_object(
        'order_id', 'o-' || g,
        'revenue', round(((((r >> 3) & 1023) / 1023.0::float8) ^ 2 * 600 + 5)::numeric, 2),
        'currency', (ARRAY['EUR','EUR','EUR','USD','USD','GBP','CHF','PLN'])[1 + ((r >> 13) & 7)],
        'products', ((r >> 16) & 3) + 1,
        'coupon', CASE WHEN (r >> 18) & 7 = 0 THEN 'SAVE10' END))
      WHEN k < 98 THEN jsonb_build_object(
        'campaign', (ARRAY['welcome','spring_sale','summer_sale','black_friday','winback',
            'newsletter'])[1 + ((r >> 3) & 3) + ((r >> 5) & 1) * 2],
        'subject_length', (r >> 8) & 63)
      ELSE jsonb_build_object('priority', (ARRAY['low','normal','normal','high'])
        [1 + ((r >> 3) & 3)], 'channel', (ARRAY['email','chat'])[1 + ((r >> 5) & 1)])
    END,
    '{}'::jsonb, '{}'::jsonb,
    ts, ts, ts, ts, p, ts
FROM (
    SELECT g, r, abs(r) %% 100 AS k,
        -- Skewed: a few profiles have many events, most have a handful.
        1 + floor(%(profiles)s
            * power(((hashint4(g * 31) & 1048575) / 1048576.0::float8), 1.6))::int AS p,
        now() - ((hashint4(g * 37) & 1048575) / 1048576.0::float8) * interval '730 days' AS ts
    FROM (SELECT g, hashint4(g) AS r FROM generate_series(1, %(events)s) AS g) AS s
) AS e
"""

CONSENT_SQL = """
INSERT INTO compliance_consentrecord
    (profile_id, purpose_id, granted, recorded_at, source_id, evidence)
SELECT id, %(purpose)s, (hashint4((id * 23)::int) & 3) <> 0,
    first_seen + interval '1 hour', %(source)s, jsonb_build_object('import', 'bench')
FROM profiles_profile WHERE (hashint4((id * 29)::int) & 1023) < 614
UNION ALL
SELECT id, %(purpose)s, (hashint4((id * 23)::int) & 3) = 0,
    last_seen, %(source)s, jsonb_build_object('import', 'bench')
FROM profiles_profile WHERE (hashint4((id * 29)::int) & 1023) < 61
"""


def build(*, profiles: int, events: int, force: bool, started: float) -> bool:
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)
    _log("migrated", started)
    # One transaction: a failed build leaves the database as it was, indexes included.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_dataset (name text PRIMARY KEY, profiles int,"
            " events int, built_at timestamptz, seconds int)"
        )
        cursor.execute(
            "SELECT profiles, events FROM bench_dataset WHERE name = 'main'",
        )
        row = cursor.fetchone()
        if row == (profiles, events) and not force:
            _log(f"already built: {profiles} profiles, {events} events", started)
            return False
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute("SET work_mem = '64MB'")
        cursor.execute("DELETE FROM bench_dataset WHERE name = 'main'")
        cursor.execute(
            "TRUNCATE profiles_profile, profiles_identity, profiles_event, profiles_eventmessage, "
            "compliance_consentrecord RESTART IDENTITY CASCADE"
        )
        ddl = _drop_indexes_and_constraints(cursor)
        _log(f"emptied; dropped {len(ddl)} indexes/constraints for the load", started)

        # Through the ORM: the source's columns and their defaults follow the model.
        from integrations.models import Source

        source = Source.objects.get_or_create(name=SOURCE_NAME)[0].pk
        cursor.execute("SELECT id FROM compliance_consentpurpose WHERE key = 'email_marketing'")
        purpose = cursor.fetchone()[0]
        params = {"profiles": profiles, "events": events, "source": source, "purpose": purpose}

        cursor.execute(PROFILES_SQL, params)
        cursor.execute(MERGED_SQL, params)
        _log(f"profiles: {profiles}", started)
        cursor.execute(IDENTITIES_SQL, params)
        _log(f"identities: {cursor.rowcount}", started)
        from django.utils import timezone

        from profiles.event_partitions import event_partitions_ensure

        # The two years of history get their monthly partitions (PostgreSQL, partitioned table).
        made = event_partitions_ensure(since=timezone.now() - dt.timedelta(days=731))
        _log(f"event partitions created: {len(made)}", started)
        cursor.execute(EVENTS_SQL, params)
        # The deduplication keys (`profiles.EventMessage`) of the events just made.
        cursor.execute(
            "INSERT INTO profiles_eventmessage (source_id, message_id) "
            "SELECT source_id, message_id FROM profiles_event"
        )
        _log(f"events: {events}", started)
        cursor.execute(CONSENT_SQL, params)
        _log(f"consent records: {cursor.rowcount}", started)

        for statement in ddl:
            cursor.execute(statement)
        _log(f"recreated {len(ddl)} indexes/constraints", started)
        for table in LOADED_TABLES:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))",
                [table],
            )
        cursor.execute(
            "INSERT INTO bench_dataset (name, profiles, events, built_at, seconds) "
            "VALUES ('main', %s, %s, now(), %s)",
            [profiles, events, int(time.monotonic() - started)],
        )
    # Outside the load's transaction: VACUUM sets the visibility map, so that index-only scans
    # (the event indexes answer most segment questions alone) need not visit the heap.
    with connection.cursor() as cursor:
        for table in (*LOADED_TABLES, "profiles_eventmessage"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    _log("vacuumed and analyzed; done", started)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k profiles, 1M events")
    parser.add_argument("--force", action="store_true", help="rebuild even if already built")
    parser.add_argument("--profiles", type=int, help="override the number of profiles")
    parser.add_argument("--events", type=int, help="override the number of events")
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    url = os.environ.get("DATABASE_URL") or f"postgres://postgres@127.0.0.1:5432/{size['db']}"
    started = time.monotonic()
    _ensure_database(url)
    _setup_django(url)
    build(
        profiles=args.profiles or size["profiles"],
        events=args.events or size["events"],
        force=args.force,
        started=started,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
