"""Benchmark of the CSV upload source: rows of a file imported through to stored events.

    .venv/bin/python bench/sources.py --part csv             # 1,000,000 rows
    .venv/bin/python bench/sources.py --part csv --quick     # 100,000 rows
    .venv/bin/python bench/sources_csv.py [--quick] [--rows N]

Writes a CSV file of customers (user id, e-mail, first name, plan, signup date; a few rows
bad on purpose), then in a child process on PostgreSQL (the app database of bench/sources.py,
`--database-url`, else CDP_BENCH_CSV_URL, else
postgres://postgres@127.0.0.1:5432/cdp_bench_sources_csv; created and migrated if missing):
creates a CSV source, uploads the file as the pages do (streamed to disk, hashed, its lines
counted and its encoding checked), starts an import and runs it in that process as a worker
would (`sync_run_execute`: read, map, validate and store each batch in one transaction). The
identity-resolution tasks it queues go to an in-memory broker and are dropped: this measures the
source, not resolution. Then it counts the source's stored events and checks the run's counts.

Prints `name=value` lines, the headline (rows imported per second) last, with the load average
and the CPU seconds of the importing process and of the database's backends.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import PYTHON, ROOT, cpu_by_pid

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cdp_bench_sources_csv"
BAD_EVERY = 10_000  # one row in this many has a broken e-mail: the bad-row path is exercised


def _database_ensure(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def _write_file(path: Path, rows: int, run: str) -> int:
    """The benchmark's file; the number of good rows in it."""
    plans = ("free", "pro", "team", "enterprise")
    bad = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("Customer ID,E-mail,First name,Plan,Signed up\n")
        for i in range(rows):
            email = f"person{i}@{run}.example.com" if i % BAD_EVERY else "not-an-email"
            bad += not i % BAD_EVERY
            handle.write(
                f"{run}-{i},{email},Name{i % 997},{plans[i % 4]},2026-0{1 + i % 9}-1{i % 10}\n"
            )
    return rows - bad


def _child(path: str, good: int) -> None:
    """In the child: import the file and print the figures as JSON on the last line."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from integrations.csv_import.services import csv_import_start, csv_upload_store
    from integrations.models import Source, SyncRun
    from integrations.sources import source_connector_create
    from integrations.sync.runner import sync_run_execute
    from profiles.models import Event

    user = get_user_model().objects.filter(is_superuser=True).first()
    source = source_connector_create(
        name=f"Bench CSV {time.time_ns()}", kind="csv_upload", values={}, created_by=user
    )
    started = time.perf_counter()
    with open(path, "rb") as handle:
        file = csv_upload_store(
            source=source, chunks=iter(lambda: handle.read(1 << 20), b""), name="bench.csv"
        )
    uploaded = time.perf_counter()
    source.refresh_from_db()
    run = csv_import_start(source=source)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    db_before = cpu_by_pid([backend]).get(backend, 0.0)
    cpu_before = time.process_time()
    begin = time.perf_counter()
    sync_run_execute(run.pk)
    elapsed = time.perf_counter() - begin
    cpu = time.process_time() - cpu_before
    db_cpu = cpu_by_pid([backend]).get(backend, 0.0) - db_before
    run = SyncRun.objects.get(pk=run.pk)
    stored = Event.objects.filter(source_id=source.pk).count()
    print(
        json.dumps(
            {
                "status": run.status,
                "message": run.message,
                "lines": file["lines"],
                "good": good,
                "stored": stored,
                "run_stored": run.records_stored,
                "run_failed": run.records_failed,
                "upload_seconds": uploaded - started,
                "import_seconds": elapsed,
                "import_cpu_seconds": cpu,
                "db_cpu_seconds": db_cpu,
                "source_id": source.pk,
            }
        )
    )
    Source.objects.filter(pk=source.pk).update(enabled=False)


def run(args) -> dict[str, str]:
    rows = getattr(args, "csv_rows", None) or (
        100_000 if getattr(args, "quick", False) else 1_000_000
    )
    url = getattr(args, "database_url", None) or os.environ.get("CDP_BENCH_CSV_URL", DEFAULT_URL)
    _database_ensure(url)
    with tempfile.TemporaryDirectory(prefix="cdp-bench-csv-") as var_dir:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "cdp_site.settings",
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "CDP_VAR_DIR": var_dir,
            "CELERY_BROKER_URL": "memory://",
            "LOG_LEVEL": "WARNING",
        }
        subprocess.run(
            [PYTHON, str(ROOT / "manage.py"), "migrate", "--noinput"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        path = Path(var_dir) / "bench.csv"
        good = _write_file(path, rows, f"r{time.time_ns() % 10**9}")
        load = os.getloadavg()
        child = subprocess.Popen(
            [PYTHON, __file__, "--child", str(path), str(good)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        out, _ = child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"the import process failed ({child.returncode})")
        result = json.loads(out.strip().splitlines()[-1])
    ok = (
        result["status"] == "succeeded"
        and result["stored"] == result["good"]
        and result["run_failed"] == rows - good
    )
    rate = rows / result["import_seconds"]
    return {
        "csv_rows": str(rows),
        "csv_bad_rows": str(rows - good),
        "csv_stored_events": str(result["stored"]),
        "csv_count_ok": str(ok).lower(),
        "csv_run_status": result["status"],
        "csv_upload_seconds": f"{result['upload_seconds']:.2f}",
        "csv_import_seconds": f"{result['import_seconds']:.2f}",
        "csv_import_cpu_seconds": f"{result['import_cpu_seconds']:.1f}",
        "csv_db_cpu_seconds": f"{result['db_cpu_seconds']:.1f}",
        "csv_load_before": " ".join(f"{value:.2f}" for value in load),
        "csv_records_per_s": f"{rate:.0f}",
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows")
    parser.add_argument("--rows", dest="csv_rows", type=int, help="rows (default 1,000,000)")
    parser.add_argument("--database-url", help="app database (default CDP_BENCH_CSV_URL)")
    figures = run(parser.parse_args())
    for name, value in figures.items():
        print(f"{name}={value}")
    if figures["csv_count_ok"] != "true":
        raise SystemExit("the stored events do not match the file's good rows")


if __name__ == "__main__":
    main()
