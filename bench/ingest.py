"""Benchmark of the tracking API: events accepted per second over HTTP, and request latency.

    .venv/bin/python bench/ingest.py            # 2,000,000 events
    .venv/bin/python bench/ingest.py --quick    # 300,000 events, about a minute in all

Starts the app under gunicorn (2 workers by default) on PostgreSQL (DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/cdp_bench_ingest, created and migrated if missing), creates a
fresh source with `manage.py create_source`, then a separate load process sends the events to
/v1/batch in batches of 100 (unique message ids, HTTP Basic with the write key, keep-alive) over
4 concurrent connections (gunicorn gthread workers, 8 threads each, so that requests waiting
on the database's commit overlap). Each connection sends its next batch when the last one is
answered, so latency = connections / requests per second: 16 connections at 200 batches/s
(20,000 events/s) would mean 80 ms per batch before any work is done; with 4 the latency
measures the work and not a queue the load generator made. Resolve tasks go to the local Redis
(db 13) when one is up, as in production, else to the embedded broker; no worker runs, and the
queued tasks are dropped after. At the end it counts the rows stored for the source.

Prints `name=value` lines, the headline (accepted events per second) last. The load generator
shares the machine with the server, as does anything else running: the load average before the
run is printed so a figure can be read in context.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import itertools
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from harness import cpu_by_pid, database_pids, manage, percentile, server_env, wait_for_server

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cdp_bench_ingest"


def _database_ensure(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def _broker_default() -> str:
    """Redis, the production broker, when one listens locally; else the embedded one."""
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return "filesystem://"
    return "redis://127.0.0.1:6379/13"


def _broker_queue_drop(broker: str) -> None:
    """Drop the resolve tasks the run queued (no worker runs during the benchmark)."""
    if broker.startswith("redis://"):
        import redis

        redis.Redis.from_url(broker).delete("celery")


def _batch_template(batch_size: int, run: str) -> tuple[bytes, bytes]:
    """A /v1/batch body with a placeholder for the batch number in every message id."""
    messages = []
    for i in range(batch_size):
        kind = ("track", "page", "identify")[i % 3]
        message = {
            "type": kind,
            "messageId": f"{run}-BATCHNO-{i}",
            "anonymousId": f"anon-BATCHNO-{i % 10}",
            "userId": f"user-{i % 37}",
            "timestamp": "2026-11-28T12:00:00.000Z",
            "context": {
                "library": {"name": "bench", "version": "1"},
                "ip": "203.0.113.7",
                "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
                "page": {"path": "/pricing", "url": "https://shop.example.com/pricing"},
            },
        }
        if kind == "track":
            message["event"] = "Product Viewed"
            message["properties"] = {"product_id": f"sku-{i}", "price": 19.99, "currency": "EUR"}
        elif kind == "page":
            message["name"] = "Pricing"
            message["properties"] = {"title": "Pricing", "referrer": "https://search.example"}
        else:
            message["traits"] = {"email": f"person{i}@example.com", "plan": "pro"}
        messages.append(message)
    body = json.dumps({"batch": messages, "sentAt": "2026-11-28T12:00:01.000Z"}).encode()
    return body, b"BATCHNO"


def _load(port, write_key, batches, concurrency, batch_size, run, warmup, queue) -> None:
    """The load process: `concurrency` threads, each with one keep-alive connection."""
    template, placeholder = _batch_template(batch_size, run)
    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": auth}
    counter = itertools.count()
    latencies: list[float] = []
    failures: list[str] = []
    accepted = [0]
    lock = threading.Lock()

    def send(conn, number: int) -> tuple[float, int, bytes]:
        body = template.replace(placeholder, str(number).encode())
        started = time.perf_counter()
        conn.request("POST", "/v1/batch", body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        return time.perf_counter() - started, response.status, payload

    def worker(first: int, last: int, record: bool) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        local_latencies, local_accepted, local_failures = [], 0, []
        while True:
            number = next(counter)
            if number >= last:
                break
            try:
                elapsed, status, payload = send(conn, number)
            except (OSError, http.client.HTTPException) as error:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                local_failures.append(repr(error))
                continue
            if status != 200:
                local_failures.append(f"{status} {payload[:200]!r}")
                continue
            local_latencies.append(elapsed)
            local_accepted += json.loads(payload)["accepted"]
        conn.close()
        if record:
            with lock:
                latencies.extend(local_latencies)
                failures.extend(local_failures)
                accepted[0] += local_accepted

    def run_phase(first: int, last: int, record: bool) -> float:
        nonlocal counter
        counter = itertools.count(first)
        threads = [
            threading.Thread(target=worker, args=(first, last, record)) for _ in range(concurrency)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started

    run_phase(0, warmup, record=False)
    queue.put("warm")
    cpu_started = time.process_time()
    elapsed = run_phase(warmup, warmup + batches, record=True)
    queue.put(
        {
            "elapsed": elapsed,
            "latencies": latencies,
            "failures": failures,
            "accepted": accepted[0],
            "cpu": time.process_time() - cpu_started,
        }
    )


def _server_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [master, *(int(pid) for pid in children.read_text().split())]


def _stored_count(url: str, source_id: int) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM profiles_event WHERE source_id = %s", (source_id,)
        ).fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300,000 events (about a minute)")
    parser.add_argument("--events", type=int, help="events to send (default 2,000,000)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument(
        "--worker-class", default="gthread", help="gunicorn worker class (gthread or sync)"
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--broker", help="Celery broker URL (default: local Redis db 13 if up, else embedded)"
    )
    args = parser.parse_args()
    events = args.events or (300_000 if args.quick else 2_000_000)
    batches = events // args.batch_size
    warmup = max(20, args.concurrency * 4)
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)

    _database_ensure(url)
    var_dir = tempfile.mkdtemp(prefix="cdp-bench-ingest-")
    # WhiteNoise warns at start-up without it; the benchmark serves no static file.
    Path(var_dir, "staticfiles").mkdir()
    broker = args.broker or _broker_default()
    env = server_env(url, var_dir, broker)
    manage(env, "migrate", "--no-input")
    run = uuid.uuid4().hex[:8]
    output = manage(env, "create_source", "--name", f"Ingest benchmark {run}")
    write_key = output.strip().splitlines()[-1]
    source_id = int(output.split("(id ", 1)[1].split(")", 1)[0])

    server = subprocess.Popen(
        [
            GUNICORN,
            "cdp_site.wsgi:application",
            "--workers",
            str(args.workers),
            "--worker-class",
            args.worker_class,
            "--threads",
            str(args.threads),
            "--bind",
            f"127.0.0.1:{args.port}",
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        wait_for_server(args.port)
        load_before = os.getloadavg()
        queue: multiprocessing.Queue = multiprocessing.Queue()
        loader = multiprocessing.Process(
            target=_load,
            args=(
                args.port,
                write_key,
                batches,
                args.concurrency,
                args.batch_size,
                run,
                warmup,
                queue,
            ),
        )
        loader.start()
        queue.get()  # warmed up: the timed phase starts now
        cpu_pids = _server_pids(server.pid), database_pids(url)
        cpu_before = [sum(cpu_by_pid(pids).values()) for pids in cpu_pids]
        result = queue.get()
        cpu_server, cpu_database = (
            sum(cpu_by_pid(pids).values()) - before
            for pids, before in zip(cpu_pids, cpu_before, strict=True)
        )
        loader.join()
        load_after = os.getloadavg()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        _broker_queue_drop(broker)

    sent = batches * args.batch_size
    stored = _stored_count(url, source_id) - warmup * args.batch_size
    latencies = result["latencies"]
    rate = result["accepted"] / result["elapsed"]
    lines = {
        "server": f"gunicorn {args.worker_class} workers={args.workers} threads={args.threads}",
        "broker": broker.split("://", 1)[0],
        "cpu_count": os.cpu_count(),
        "load_before_1m": f"{load_before[0]:.2f}",
        "load_after_1m": f"{load_after[0]:.2f}",
        "concurrency": args.concurrency,
        "batch_size": args.batch_size,
        "requests": len(latencies),
        "failed_requests": len(result["failures"]),
        "sent": sent,
        "accepted": result["accepted"],
        "stored": stored,
        "stored_equals_sent": str(stored == sent).lower(),
        "duration_s": f"{result['elapsed']:.2f}",
        "requests_per_s": f"{len(latencies) / result['elapsed']:.1f}",
        # CPU seconds used per 10,000 events accepted, by the app, PostgreSQL and the load process.
        "cpu_app_s_per_10k": f"{cpu_server / result['accepted'] * 10_000:.2f}",
        "cpu_db_s_per_10k": f"{cpu_database / result['accepted'] * 10_000:.2f}",
        "cpu_load_s_per_10k": f"{result['cpu'] / result['accepted'] * 10_000:.2f}",
        "latency_p50_ms": f"{percentile(latencies, 0.50) * 1000:.1f}",
        "latency_p95_ms": f"{percentile(latencies, 0.95) * 1000:.1f}",
        "latency_p99_ms": f"{percentile(latencies, 0.99) * 1000:.1f}",
        "events_per_s": f"{rate:.0f}",
    }
    if result["failures"]:
        print(f"first_failure={result['failures'][0]}", file=sys.stderr)
    for name, value in lines.items():
        print(f"{name}={value}")


if __name__ == "__main__":
    main()
