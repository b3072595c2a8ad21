"""Benchmark of the shop orders source: orders pulled from a local HTTP server shaped like the
Shopify Admin REST API (250 a page, `Link` header paging), through the sync runner to stored
events, and the count of stored events checked.

    .venv/bin/python bench/sources.py --part shop            # through the sources benchmark
    .venv/bin/python bench/sources_shop.py                   # alone: 200,000 orders
    .venv/bin/python bench/sources_shop.py --quick           # 20,000 orders

The server runs in its own process (tests/integrations/protocol_servers/shopify.py, orders made
from their id), so its JSON encoding does not share this process's interpreter. Each order is an
`Order Completed` track, and each customer's `identify` once (four orders per customer, all of
one customer version). Alone, it runs on PostgreSQL at SHOP_BENCH_DATABASE_URL (default
.../cdp_bench_shop, created and migrated if missing).

Prints `name=value` lines, the headline (`shop_records_per_s`: orders per second) last, with
the load average and the CPU seconds of this process, the server and the database beside the
wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT), str(ROOT / "bench")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from harness import cpu_by_pid, database_pids  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cdp_bench_shop"
ORDERS = 200_000
QUICK_ORDERS = 20_000
TARGET_PER_SECOND = 5_000


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _django_ready(url: str) -> str:
    """Django set up on `url` unless the caller (bench/sources.py) already did; the URL in use."""
    from django.conf import settings

    if settings.configured:
        from django.db import connection

        conf = connection.settings_dict
        return (
            f"postgres://{conf.get('USER') or 'postgres'}@{conf.get('HOST') or '127.0.0.1'}:"
            f"{conf.get('PORT') or 5432}/{conf['NAME']}"
        )
    import psycopg

    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp_site.settings")
    os.environ["DEBUG"] = "false"
    # Resolution tasks queued after each batch are not run by anyone here.
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def _server_start(orders: int) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integrations.protocol_servers.shopify",
            "--orders",
            str(orders),
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    line = server.stdout.readline()
    if not line.startswith("ready "):
        server.kill()
        raise SystemExit(f"the shop server did not start: {line!r}")
    return server, line.split()[1]


def run(args: argparse.Namespace) -> dict[str, str]:
    """Pull the orders through the runner; the figures as name -> value, the headline last."""
    quick = bool(getattr(args, "quick", False))
    orders = getattr(args, "shop_orders", None) or (QUICK_ORDERS if quick else ORDERS)
    url = _django_ready(os.environ.get("SHOP_BENCH_DATABASE_URL", DEFAULT_URL))

    from integrations.models import SyncRun
    from integrations.sources import source_connector_create
    from integrations.sync.runner import sync_run_execute, sync_run_start
    from profiles.models import Event
    from tests.integrations.protocol_servers.shopify import TOKEN

    server, base_url = _server_start(orders)
    try:
        source = source_connector_create(
            name=f"Shop bench {time.strftime('%Y%m%d-%H%M%S')} {os.getpid()}",
            kind="shopify_orders",
            values={"base_url": base_url, "access_token": TOKEN},
        )
        db_pids = database_pids(url)
        load = _load()
        db_cpu = sum(cpu_by_pid(db_pids).values())
        server_cpu = sum(cpu_by_pid([server.pid]).values())
        own = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        sync_run = sync_run_start(source=source, trigger=SyncRun.Trigger.MANUAL)
        if SyncRun.objects.get(pk=sync_run.pk).status == SyncRun.Status.QUEUED:
            sync_run_execute(sync_run.pk)
        seconds = time.perf_counter() - started
        own_after = resource.getrusage(resource.RUSAGE_SELF)
        runner_cpu = own_after.ru_utime + own_after.ru_stime - own.ru_utime - own.ru_stime
        server_cpu = sum(cpu_by_pid([server.pid]).values()) - server_cpu
        db_cpu = sum(cpu_by_pid(db_pids).values()) - db_cpu
    finally:
        server.terminate()
        server.wait(timeout=30)

    sync_run = SyncRun.objects.get(pk=sync_run.pk)
    completed = Event.objects.filter(source_id=source.pk, event="Order Completed").count()
    events = Event.objects.filter(source_id=source.pk).count()
    if sync_run.status != SyncRun.Status.SUCCEEDED or completed != orders:
        raise SystemExit(
            f"shop: the run {sync_run.status} ({sync_run.message}); "
            f"{completed:,} orders stored of {orders:,}"
        )
    per_second = orders / seconds
    return {
        "shop_orders": str(orders),
        "shop_events_stored": str(events),
        "shop_records_read": str(sync_run.records_read),
        "shop_records_unchanged": str(sync_run.records_unchanged),
        "shop_seconds": f"{seconds:.1f}",
        "shop_load_before": load,
        "shop_cpu_runner_s": f"{runner_cpu:.1f}",
        "shop_cpu_server_s": f"{server_cpu:.1f}",
        "shop_cpu_database_s": f"{db_cpu:.1f}",
        "shop_target_records_per_s_at_least": str(TARGET_PER_SECOND),
        # The headline: orders (the API's records) pulled and stored per second.
        "shop_records_per_s": f"{per_second:.0f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ORDERS:,} orders")
    parser.add_argument("--shop-orders", type=int, default=None, help=f"default {ORDERS:,}")
    for name, value in run(parser.parse_args()).items():
        print(f"{name}={value}", flush=True)


if __name__ == "__main__":
    main()
