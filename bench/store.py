"""PostgreSQL's CPU per event stored by the event store, new messages and duplicates.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cdp_bench_store .venv/bin/python bench/store.py

Stores --events synthetic track messages (default 30,000) through `profiles.event_store.
events_store` in batches of --batch-size (100, as the ingest benchmark sends them), then the same
messages again, all duplicates; the database is created and migrated if missing. Reads the CPU
time of its own PostgreSQL backend before and after each pass, so the figures hold on a busy
machine where wall times do not. Prints `name=value` lines, per 10,000 events.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import cpu_by_pid  # noqa: E402 - the bench folder is the script's own

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cdp_bench_store"


def _database_ensure(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    _database_ensure(url)
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="cdp_site.settings",
        LOG_LEVEL="WARNING",
        CELERY_BROKER_URL="memory://",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from integrations.models import Source
    from profiles.event_store import STORE_COLUMNS, events_store

    call_command("migrate", verbosity=0)
    source, _ = Source.objects.get_or_create(
        name="Store benchmark", defaults={"kind": "tracking_api", "write_key": uuid.uuid4().hex}
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    run, now = uuid.uuid4().hex[:8], dt.datetime.now(dt.UTC)

    def row(n: int) -> tuple:
        values = {
            "message_id": f"{run}-{n}",
            "type": "track",
            "event": "Product Viewed",
            "name": "",
            "user_id": f"u{n % 5000}",
            "anonymous_id": f"a{n % 7000}",
            "group_id": "",
            "previous_id": "",
            "traits": {},
            "properties": {"path": "/product", "price": 12.5},
            "context": {"ip": "203.0.113.9", "library": {"name": "bench"}},
            "integrations": {},
            "timestamp": now,
            "original_timestamp": now,
            "sent_at": now,
        }
        return tuple(values[c] for c in STORE_COLUMNS)

    size = args.batch_size
    batches = [[row(b * size + i) for i in range(size)] for b in range(args.events // size)]
    events_store(source_id=source.pk, rows=[row(-1)], received_at=now)  # warm-up
    print(f"store_load_average_before={' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, field in (("new", "stored"), ("duplicate", "duplicates")):
        cpu, started = cpu_by_pid([backend])[backend], time.perf_counter()
        count = sum(
            getattr(events_store(source_id=source.pk, rows=b, received_at=now), field)
            for b in batches
        )
        per = 10_000 / count
        spent = cpu_by_pid([backend])[backend] - cpu
        print(f"store_{name}_events={count}")
        print(f"store_{name}_postgres_cpu_seconds_per_10000={spent * per:.3f}")
        print(f"store_{name}_wall_seconds_per_10000={(time.perf_counter() - started) * per:.3f}")


if __name__ == "__main__":
    main()
