"""Benchmark of the whole pipeline at once: tracking, resolution and real-time segments together.

    .venv/bin/python bench/pipeline.py            # steps of 2 minutes, then 2 minutes of probes
    .venv/bin/python bench/pipeline.py --quick    # about two minutes in all

Everything runs on this machine as the README's production commands run it: gunicorn (2 gthread
workers) on PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
cdp_bench_pipeline, dropped and created afresh) with Redis as the broker (db 12, emptied first),
one Celery worker on the `resolution` queue (2 processes), one on `segments` and `default`
(1 process) and Celery beat. This machine's PostgreSQL runs with autovacuum off, so the benchmark
runs VACUUM ANALYZE of the pipeline's tables every 20 s in its place. Before the load starts,
five segments are saved through the API: the four kinds the segment benchmark times (trait only,
an event count in a window with a property filter, nested groups with consent and another
segment, lapsed buyers) and one that the freshness probes enter; every one is refreshed in real
time as events are resolved.

1. Sustained throughput: a load process offers tracking events at a fixed rate (batches of 100
   from 8 keep-alive connections, paced), raised step by step. A step holds when every request
   succeeded, the offered rate was reached, and the resolution backlog (events stored but not
   yet resolved, sampled every 2 s) stayed bounded: it did not grow by more than 2% of the
   offered rate per second over the step's second half, and never held more than 10 s of load.
   The headline is the highest rate that held; the CPU each part used at that rate is printed
   as a share of the machine (web processes, workers, PostgreSQL).
2. Freshness: at a steady 2,000 events/s, a probe each second sends an identify and a track for
   a new person and measures, from the request's 2xx, the time until (a) the track event is on
   that person's profile through the REST API and (b) the probe segment's membership holds them.

Prints `name=value` lines, the headline (`sustained_events_per_s`) last. Load average and CPU
seconds are printed beside the figures: the load generator shares the machine with the server.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import http.client
import importlib.util
import json
import multiprocessing
import os
import random
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
BIN = ROOT / ".venv" / "bin"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cdp_bench_pipeline"
BROKER = "redis://127.0.0.1:6379/12"
PORT = 8766
BATCH = 100
PEOPLE = 50_000
TARGET_EPS = 10_000
TARGET_API_P95_S = 2.0
TARGET_SEGMENT_P95_S = 5.0


# -- Set-up ------------------------------------------------------------------------------------


def _database_fresh(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _env(url: str, var_dir: str) -> dict:
    return {**server_env(url, var_dir, BROKER), "DJANGO_SUPERUSER_PASSWORD": "bench-not-secret"}


def _start(env: dict, *command: str) -> subprocess.Popen:
    return subprocess.Popen(
        list(command),
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


class Api:
    """The REST API with a token, over one keep-alive connection (one per thread)."""

    def __init__(self, token: str):
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)

    def call(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        data = None if body is None else json.dumps(body)
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=self.headers)
                response = self.conn.getresponse()
                payload = response.read()
                return response.status, json.loads(payload) if payload else None
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def _created(status: int, body: object) -> dict:
    if status != 201:
        raise SystemExit(f"could not save a segment: {status} {body}")
    return body


def _segments_create(api: Api, run: str) -> int:
    """The segment benchmark's four kinds, and the probes' segment (whose id is returned)."""
    # bench/segments.py, loaded by path: its module name is the segments app's.
    spec = importlib.util.spec_from_file_location("bench_segments", ROOT / "bench" / "segments.py")
    kinds = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kinds)
    vip = _created(*api.call("POST", "/api/segments/", {"name": "VIP", "definition": kinds.VIP}))
    for name, definition in kinds.definitions(vip["id"]).items():
        _created(*api.call("POST", "/api/segments/", {"name": name, "definition": definition}))
    probe = {
        "match": "all",
        "conditions": [{"type": "trait", "trait": "probe_run", "operator": "equals", "value": run}],
    }
    return _created(*api.call("POST", "/api/segments/", {"name": "Probes", "definition": probe}))[
        "id"
    ]


# -- Load --------------------------------------------------------------------------------------


def _message(n: int, run: str, now: str, rng: random.Random) -> dict:
    person = rng.randrange(PEOPLE)
    message: dict = {
        "messageId": f"{run}-{n}",
        "userId": f"user-{person}",
        "anonymousId": f"anon-{person}",
        "timestamp": now,
        "context": {"library": {"name": "bench", "version": "1"}, "ip": "203.0.113.7"},
    }
    kind = rng.random()
    if kind < 0.15:
        message["type"] = "identify"
        message["traits"] = {
            "email": f"person{person}@example.com",
            "country": rng.choice(["DE", "AT", "CH", "US", "GB", "FR"]),
            "plan": rng.choice(["free", "pro", "enterprise"]),
            "lifetime_value": rng.randrange(3000),
            "churn_risk": round(rng.random(), 2),
        }
    elif kind < 0.25:
        message.update(type="track", event="Order Completed")
        message["properties"] = {"revenue": round(rng.uniform(5, 400), 2), "currency": "EUR"}
    elif kind < 0.6:
        message.update(type="track", event="Product Viewed")
        message["properties"] = {"product_id": f"sku-{rng.randrange(500)}", "price": 19.99}
    elif kind < 0.7:
        message.update(type="track", event="Email Opened")
    else:
        message.update(type="page", name="Pricing")
        message["properties"] = {"path": "/pricing"}
    return message


def _auth(write_key: str) -> str:
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


def _load(write_key: str, rate: float, seconds: float, run: str, out) -> None:
    """The load process: `rate` events/s in batches of 100 for `seconds`, paced, 8 connections."""
    headers = {"Content-Type": "application/json", "Authorization": _auth(write_key)}
    batches_per_s = rate / BATCH
    total = int(batches_per_s * seconds)
    lock = threading.Lock()
    state = {"next": 0, "accepted": 0, "failures": []}
    started = time.monotonic()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        while True:
            with lock:
                number = state["next"]
                state["next"] += 1
            if number >= total:
                break
            due = started + number / batches_per_s
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            now = dt.datetime.now(dt.UTC).isoformat()
            batch = [_message(number * BATCH + i, run, now, rng) for i in range(BATCH)]
            body = json.dumps({"batch": batch, "sentAt": now})
            try:
                conn.request("POST", "/v1/batch", body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as error:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
                with lock:
                    state["failures"].append(repr(error))
                continue
            with lock:
                if response.status == 200:
                    state["accepted"] += json.loads(payload)["accepted"]
                else:
                    state["failures"].append(f"{response.status} {payload[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put(
        {
            "elapsed": time.monotonic() - started,
            "accepted": state["accepted"],
            "failures": state["failures"][:5],
            "failed": len(state["failures"]),
        }
    )


def _load_start(write_key: str, rate: float, seconds: float, run: str):
    out: multiprocessing.Queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=_load, args=(write_key, rate, seconds, run, out))
    process.start()
    return process, out


# -- Measuring ---------------------------------------------------------------------------------


def _backlog(conn) -> int:
    # The partial index on unresolved events makes this cheap at any table size.
    return conn.execute("SELECT count(*) FROM profiles_event WHERE resolved_at IS NULL").fetchone()[
        0
    ]


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(child) for child in children)
    return pids


class CpuMeter:
    """CPU seconds used by each part between `start` and `stop` (processes that came and went
    meanwhile are counted from their start)."""

    def __init__(self, parts: dict[str, callable]):
        self.parts = parts
        self.before: dict[str, dict[int, float]] = {}

    def start(self) -> None:
        self.before = {name: cpu_by_pid(pids()) for name, pids in self.parts.items()}

    def stop(self) -> dict[str, float]:
        used = {}
        for name, pids in self.parts.items():
            after = cpu_by_pid(pids())
            used[name] = sum(after[pid] - self.before[name].get(pid, 0.0) for pid in after)
        return used


def _slope(points: list[tuple[float, int]]) -> float:
    """Least-squares slope of backlog over time, events per second."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_b = sum(b for _, b in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (b - mean_b) for t, b in points) / var if var else 0.0


def _step(url: str, write_key: str, rate: float, seconds: float, run: str, meter: CpuMeter):
    import psycopg

    process, out = _load_start(write_key, rate, seconds, run)
    samples: list[tuple[float, int]] = []
    started = time.monotonic()
    meter.start()
    with psycopg.connect(url, autocommit=True) as conn:
        while process.is_alive():
            samples.append((time.monotonic() - started, _backlog(conn)))
            time.sleep(2)
        result = out.get()
        process.join()
        samples.append((time.monotonic() - started, _backlog(conn)))
    cpu = meter.stop()
    elapsed = result["elapsed"]
    second_half = [(t, b) for t, b in samples if t >= elapsed / 2]
    slope = _slope(second_half)
    peak = max((b for _, b in second_half), default=0)
    achieved = result["accepted"] / elapsed
    held = (
        result["failed"] == 0
        and achieved >= 0.97 * rate
        and slope <= 0.02 * rate
        and peak <= 10 * rate
    )
    return {
        "rate": rate,
        "achieved": achieved,
        "failed": result["failed"],
        "failures": result["failures"],
        "slope": slope,
        "peak": peak,
        "end_backlog": samples[-1][1],
        "held": held,
        "cpu": {name: used / elapsed for name, used in cpu.items()},
        "elapsed": elapsed,
    }


def _drain(url: str, timeout: float) -> int:
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            backlog = _backlog(conn)
            if backlog == 0 or time.monotonic() > deadline:
                return backlog
            time.sleep(1)


def _probe(write_key: str, token: str, run: str, segment_id: int, results: list) -> None:
    """One new person: identify + track, then poll the API until the event and membership show."""
    probe = uuid.uuid4().hex[:12]
    user_id = f"probe-{probe}"
    now = dt.datetime.now(dt.UTC).isoformat()
    batch = [
        {
            "type": "identify",
            "userId": user_id,
            "traits": {"probe_run": run},
            "messageId": f"{probe}-i",
            "timestamp": now,
        },
        {
            "type": "track",
            "userId": user_id,
            "event": "Probe Sent",
            "messageId": f"{probe}-t",
            "timestamp": now,
        },
    ]
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    conn.request(
        "POST",
        "/v1/batch",
        body=json.dumps({"batch": batch}),
        headers={"Content-Type": "application/json", "Authorization": _auth(write_key)},
    )
    response = conn.getresponse()
    response.read()
    conn.close()
    if response.status != 200:
        results.append({"error": response.status})
        return
    accepted = time.monotonic()
    api = Api(token)
    on_profile = in_segment = None
    profile_id = None
    deadline = accepted + 60
    while (on_profile is None or in_segment is None) and time.monotonic() < deadline:
        if profile_id is None:
            status, body = api.call("GET", f"/api/profiles/?user_id={user_id}")
            if status == 200 and body["results"]:
                profile_id = body["results"][0]["id"]
        if profile_id is not None and on_profile is None:
            status, body = api.call("GET", f"/api/profiles/{profile_id}/events/")
            if status == 200 and any(e.get("messageId") == f"{probe}-t" for e in body["results"]):
                on_profile = time.monotonic() - accepted
        if profile_id is not None and in_segment is None:
            status, body = api.call("GET", f"/api/profiles/{profile_id}/segments/")
            if status == 200 and any(
                row["segment_id"] == segment_id and row["exited_at"] is None
                for row in body["results"]
            ):
                in_segment = time.monotonic() - accepted
        time.sleep(0.1)
    results.append({"api": on_profile, "segment": in_segment})


def _freshness(url, write_key, token, run, segment_id, seconds: float) -> dict:
    process, out = _load_start(write_key, 2000, seconds, f"{run}-steady")
    results: list[dict] = []
    probes = []
    time.sleep(min(10.0, seconds / 4))  # let the steady load settle first
    deadline = time.monotonic() + seconds - 15
    while time.monotonic() < deadline:
        probe = threading.Thread(target=_probe, args=(write_key, token, run, segment_id, results))
        probe.start()
        probes.append(probe)
        time.sleep(1)
    for probe in probes:
        probe.join()
    load = out.get()
    process.join()
    api = [r["api"] for r in results if r.get("api") is not None]
    segment = [r["segment"] for r in results if r.get("segment") is not None]
    return {
        "probes": len(results),
        "missed": sum(1 for r in results if r.get("api") is None or r.get("segment") is None),
        "api_p50": percentile(api, 0.5),
        "api_p95": percentile(api, 0.95),
        "segment_p50": percentile(segment, 0.5),
        "segment_p95": percentile(segment, 0.95),
        "load_failed": load["failed"],
        "load_achieved": load["accepted"] / load["elapsed"],
    }


class Autovacuum(threading.Thread):
    """Stands in for PostgreSQL's autovacuum, which this machine's server runs without: every
    20 s, VACUUM ANALYZE of the tables the pipeline writes. Without fresh statistics the planner
    keeps the estimates of the empty database it started from, which no deployment has."""

    TABLES = (
        "profiles_event",
        "profiles_eventmessage",
        "profiles_profile",
        "profiles_identity",
        "segments_segmentmembership",
        "segments_refreshrequest",
        "compliance_consentrecord",
    )

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.done = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.done.wait(20):
                for table in self.TABLES:
                    conn.execute(f"VACUUM (ANALYZE, SKIP_LOCKED) {table}")


# -- Main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short steps (about two minutes)")
    parser.add_argument(
        "--rates",
        help="comma-separated offered rates in events/s (default 4000,8000,10000,12000,14000,"
        "16000; --quick: 6000,10000)",
    )
    parser.add_argument("--step-seconds", type=float, help="seconds per step (120; quick 30)")
    parser.add_argument("--freshness-seconds", type=float, help="seconds of probes (120; quick 40)")
    args = parser.parse_args()
    rates = [
        float(r)
        for r in (
            args.rates or ("6000,10000" if args.quick else "4000,8000,10000,12000,14000,16000")
        ).split(",")
    ]
    step_seconds = args.step_seconds or (30.0 if args.quick else 120.0)
    fresh_seconds = args.freshness_seconds or (40.0 if args.quick else 120.0)
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    run = uuid.uuid4().hex[:8]

    import redis

    redis.Redis.from_url(BROKER).flushdb()
    _database_fresh(url)
    var_dir = tempfile.mkdtemp(prefix="cdp-bench-pipeline-")
    Path(var_dir, "staticfiles").mkdir()
    env = _env(url, var_dir)
    manage(env, "migrate", "--no-input")
    manage(env, "createsuperuser", "--no-input", "--username", "bench", "--email", "b@x.io")
    token = manage(env, "drf_create_token", "bench").split()[2]
    source = manage(env, "create_source", "--name", f"Pipeline {run}")
    write_key = source.strip().splitlines()[-1]

    celery = str(BIN / "celery")
    web = _start(
        env,
        str(BIN / "gunicorn"),
        "cdp_site.wsgi:application",
        "--workers=2",
        "--worker-class=gthread",
        "--threads=8",
        f"--bind=127.0.0.1:{PORT}",
        "--keep-alive=30",
        "--log-level=warning",
    )
    resolution = _start(
        env, celery, "-A", "cdp_site", "worker", "-Q", "resolution", "-c", "2", "-n", "res@%h"
    )
    segments = _start(
        env, celery, "-A", "cdp_site", "worker", "-Q", "segments,default", "-c", "1", "-n", "seg@%h"
    )
    beat = _start(env, celery, "-A", "cdp_site", "beat", "-s", f"{var_dir}/beat-schedule")
    processes = [web, resolution, segments, beat]
    autovacuum = Autovacuum(url)
    autovacuum.start()
    lines: dict[str, object] = {"cpu_count": os.cpu_count()}
    try:
        wait_for_server(PORT)
        api = Api(token)
        segment_id = _segments_create(api, run)
        meter = CpuMeter(
            {
                "web": lambda: _tree(web.pid),
                "workers": lambda: _tree(resolution.pid) + _tree(segments.pid),
                "db": lambda: database_pids(url),
            }
        )
        lines["load_before_1m"] = f"{os.getloadavg()[0]:.2f}"
        best = None
        for rate in rates:
            step = _step(url, write_key, rate, step_seconds, f"{run}-{int(rate)}", meter)
            key = f"step_{int(rate)}"
            lines[f"{key}_achieved_eps"] = f"{step['achieved']:.0f}"
            lines[f"{key}_failed_requests"] = step["failed"]
            lines[f"{key}_backlog_slope_eps"] = f"{step['slope']:.0f}"
            lines[f"{key}_backlog_peak"] = step["peak"]
            lines[f"{key}_held"] = "yes" if step["held"] else "no"
            lines[f"{key}_cpu_cores"] = " ".join(
                f"{name}={used:.2f}" for name, used in step["cpu"].items()
            )
            lines[f"{key}_load_1m"] = f"{os.getloadavg()[0]:.2f}"
            if step["failures"]:
                print(f"{key}_first_failure={step['failures'][0]}", file=sys.stderr)
            if not step["held"]:
                break
            best = step
            lines[f"{key}_drain_left"] = _drain(url, timeout=120)
        _drain(url, timeout=180)
        fresh = _freshness(url, write_key, token, run, segment_id, fresh_seconds)
        lines["freshness_probes"] = fresh["probes"]
        lines["freshness_missed"] = fresh["missed"]
        lines["freshness_load_eps"] = f"{fresh['load_achieved']:.0f}"
        lines["freshness_api_p50_s"] = f"{fresh['api_p50']:.2f}"
        lines["freshness_api_p95_s"] = f"{fresh['api_p95']:.2f}"
        lines["freshness_segment_p50_s"] = f"{fresh['segment_p50']:.2f}"
        lines["freshness_segment_p95_s"] = f"{fresh['segment_p95']:.2f}"
        lines["load_after_1m"] = f"{os.getloadavg()[0]:.2f}"
    finally:
        autovacuum.done.set()
        _stop(processes)

    sustained = best["rate"] if best else 0
    if best:
        for name, used in best["cpu"].items():
            lines[f"cpu_{name}_share_at_sustained"] = f"{used / (os.cpu_count() or 1):.0%}"
    met = (
        sustained >= TARGET_EPS
        and fresh["api_p95"] <= TARGET_API_P95_S
        and fresh["segment_p95"] <= TARGET_SEGMENT_P95_S
        and fresh["missed"] == 0
    )
    lines["targets_met"] = "yes" if met else "no"
    lines["sustained_events_per_s"] = f"{sustained:.0f}"
    for name, value in lines.items():
        print(f"{name}={value}")


if __name__ == "__main__":
    main()
