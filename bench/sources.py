"""Benchmark of sources: records pulled and stored as events per second, per part.

    .venv/bin/python bench/sources.py --part table           # 1,000,000 PostgreSQL rows
    .venv/bin/python bench/sources.py --part table --quick   # 100,000 rows
    .venv/bin/python bench/sources.py --part csv             # bench/sources_csv.py
    .venv/bin/python bench/sources.py --part shop            # bench/sources_shop.py
    .venv/bin/python bench/sources.py                        # every part, one after another

`--part table`: a `customers` table of N rows is made in a PostgreSQL database of its own
(`<database>_table`, made with generate_series), a `postgres_table` source is set up on it, and
one sync run is executed in this process exactly as the worker's task executes it (server-side
cursor in batches of 5,000, each batch validated, stored in one bulk insert and checkpointed in
one transaction). The events stored for the source are counted at the end and must equal N.
The app's database is DATABASE_URL (default postgres://postgres@127.0.0.1:5432/cdp_bench_sources,
created and migrated if missing). Resolution tasks the run queues go to the local Redis (db 13)
when one is up, else to the embedded broker; no worker runs and they are dropped after.

The other parts live in `bench/sources_csv.py` and `bench/sources_shop.py`, each exporting
`run(args) -> dict[str, str]`; a part whose module is missing is reported, not a crash.

Prints `name=value` lines, the headline (records per second of the last part) last, with the
load average and the CPU seconds of this process and of PostgreSQL's backends beside it: the
machine is shared, so a figure is read in context.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from harness import cpu_by_pid, manage, server_env

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cdp_bench_sources"
PARTS = ("table", "csv", "shop")


def database_ensure(url: str, *, fresh: bool = False) -> None:
    """Create the database of `url` if missing (dropped first when `fresh`)."""
    import psycopg

    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def broker_default() -> str:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return "filesystem://"
    return "redis://127.0.0.1:6379/13"


def broker_queue_drop(broker: str) -> None:
    if broker.startswith("redis://"):
        import redis

        client = redis.Redis.from_url(broker)
        for key in client.scan_iter("*"):
            client.delete(key)


def app_setup(url: str, broker: str) -> None:
    """Migrate the app's database and load Django in this process, as a worker would."""
    database_ensure(url)
    env = server_env(url, tempfile.mkdtemp(prefix="cdp-bench-sources-"), broker)
    manage(env, "migrate", "--noinput")
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def backend_pids(url: str, names: list[str]) -> list[int]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
            (names,),
        ).fetchall()
    return [row[0] for row in rows]


def run_table(args) -> dict[str, str]:
    """N rows of a PostgreSQL table through one sync run to stored events."""
    import psycopg
    from django.db import connection

    from integrations.models import SyncRun
    from integrations.sources import source_connector_create
    from integrations.sync.runner import sync_run_execute, sync_run_start
    from profiles.models import Event

    rows = 100_000 if args.quick else args.rows
    table_url = args.database_url.split("?", 1)[0] + "_table"
    table_db = table_url.rsplit("/", 1)[1]
    database_ensure(table_url, fresh=True)
    with psycopg.connect(table_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE customers (id bigint PRIMARY KEY, email text, external_id text, "
            "name text, plan text, country text, score numeric(6,2), updated_at timestamptz)"
        )
        conn.execute(
            "INSERT INTO customers SELECT n, 'person' || n || '@example.com', 'cust-' || n, "
            "'Person ' || n, (ARRAY['free','pro','team'])[1 + n %% 3], "
            "(ARRAY['DE','FR','US','GB'])[1 + n %% 4], (n %% 1000) / 10.0, "
            "timestamptz '2026-01-01 00:00+00' + (n / 3) * interval '1 second' "
            "FROM generate_series(1, %s) n",
            (rows,),
        )
        conn.execute("CREATE INDEX customers_sync ON customers (updated_at, id)")
        conn.execute("ANALYZE customers")
    info = psycopg.conninfo.conninfo_to_dict(table_url)
    source = source_connector_create(
        name=f"Bench table {time.time_ns()}",
        kind="postgres_table",
        values={
            "host": info.get("host", "127.0.0.1"),
            "port": int(info.get("port", 5432)),
            "database": table_db,
            "user": info.get("user", "postgres"),
            "password": info.get("password", ""),
            "table": "public.customers",
            "user_id_column": "external_id",
            "email_column": "email",
            "batch_size": args.batch_size,
        },
    )
    run = sync_run_start(source=source, trigger=SyncRun.Trigger.MANUAL)
    app_db = connection.settings_dict["NAME"]

    load_before = os.getloadavg()
    # The run's own connections (the app's and the source's) exist once it starts: measure the
    # database's CPU by the backends of both databases, sampled just after the run begins.
    cpu_started = time.process_time()
    started = time.perf_counter()
    backends_before = {}
    import threading

    def sample_backends():
        time.sleep(0.5)
        pids = backend_pids(args.database_url, [app_db, table_db])
        backends_before.update(cpu_by_pid(pids))

    sampler = threading.Thread(target=sample_backends)
    sampler.start()
    finished = sync_run_execute(run.pk)
    elapsed = time.perf_counter() - started
    cpu_app = time.process_time() - cpu_started
    sampler.join()
    backends_after = cpu_by_pid(list(backends_before))
    cpu_db = sum(backends_after.get(pid, 0) - before for pid, before in backends_before.items())
    load_after = os.getloadavg()

    stored = Event.objects.filter(source_id=source.pk).count()
    if finished.status != SyncRun.Status.SUCCEEDED or stored != rows:
        raise SystemExit(
            f"table part failed: status={finished.status} message={finished.message!r} "
            f"stored={stored} expected={rows}"
        )
    return {
        "table_rows": str(rows),
        "table_batch_size": str(args.batch_size),
        "table_events_stored": str(stored),
        "table_seconds": f"{elapsed:.2f}",
        "table_load_before_1m": f"{load_before[0]:.2f}",
        "table_load_after_1m": f"{load_after[0]:.2f}",
        # CPU seconds per 10,000 records: this process (the worker's work) and PostgreSQL (the
        # source's reads and the event store's writes; sampled after the run's connections
        # opened, so slightly under).
        "table_cpu_app_s_per_10k": f"{cpu_app / rows * 10_000:.2f}",
        "table_cpu_db_s_per_10k": f"{cpu_db / rows * 10_000:.2f}",
        "table_records_per_s": f"{rows / elapsed:.0f}",
    }


def run_module(part: str, args) -> dict[str, str]:
    """A part kept in its own module (bench/sources_<part>.py): its `run(args)`."""
    try:
        module = importlib.import_module(f"sources_{part}")
    except ModuleNotFoundError as problem:
        if problem.name != f"sources_{part}":
            raise
        return {f"{part}_error": f"bench/sources_{part}.py is missing: part not run"}
    return module.run(args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=(*PARTS, "all"), default="all")
    parser.add_argument("--quick", action="store_true", help="smaller data sets")
    parser.add_argument("--rows", type=int, default=1_000_000, help="table rows (--part table)")
    parser.add_argument("--batch-size", type=int, default=5000, help="rows per batch")
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_URL), help="app database"
    )
    args = parser.parse_args()
    args.broker = broker_default()
    app_setup(args.database_url, args.broker)
    parts = PARTS if args.part == "all" else (args.part,)
    results: list[tuple[str, str]] = [("cpu_count", str(os.cpu_count()))]
    headlines: list[tuple[str, str]] = []
    try:
        for part in parts:
            try:
                answer = run_table(args) if part == "table" else run_module(part, args)
            except Exception:
                traceback.print_exc()
                answer = {f"{part}_error": "the part failed (traceback above)"}
            for name, value in answer.items():
                if name.endswith("_records_per_s"):
                    headlines.append((name, value))
                else:
                    results.append((name, value))
    finally:
        broker_queue_drop(args.broker)
    # Each part's records per second last, the last part's (the headline) at the very end.
    for name, value in [*results, *headlines]:
        print(f"{name}={value}")


if __name__ == "__main__":
    main()
