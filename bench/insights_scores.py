"""Benchmark the scores, journeys and dashboards on the benchmark dataset.

    .venv/bin/python bench/insights_scores.py            # cdp_bench (1M profiles, 10M events)
    .venv/bin/python bench/insights_scores.py --quick    # cdp_bench_quick (100k, 1M)

Build the data first with bench/dataset.py (DATABASE_URL picks another database for both).
Measured in this process on the app's own code paths: the full RFM recompute of every customer
(`rfm_recompute`), the churn model's training, measurement and scoring (`churn_train`), a 4-step
funnel over the last 30 days with a 7-day window (`funnel_run`, best and median of `--runs`), the
worker's refresh of the home dashboard's panels, and the home dashboard as a superuser sees it
(the page and its four panel fragments, through Django's test client, `--requests` times: the
dashboard's time is the page's plus its slowest panel's, as a browser loads the panels side by
side; the page, each panel, and all five one after another are reported too).
Beside each figure: the CPU seconds of this process and of the database's backends, and the
1-minute load average when it finished. Targets: funnel under 2 s, dashboard p95 under 200 ms.
Output: name=value lines, headline last.
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

from bench.harness import cpu_by_pid, database_pids, percentile  # noqa: E402

FUNNEL_TARGET_MS = 2000.0
DASHBOARD_TARGET_MS = 200.0
FUNNEL_STEPS = ("Email Opened", "Product Viewed", "Product Added", "Order Completed")
PANELS = ("/dashboard/customers/", "/dashboard/segments/", "/dashboard/syncs/",
          "/dashboard/requests/")  # fmt: skip


class Meter:
    """Wall time, CPU seconds of this process and of the database backends, load afterwards."""

    def __init__(self, url: str):
        self.url = url

    def __enter__(self):
        self.pids = database_pids(self.url)
        self.db_cpu = sum(cpu_by_pid(self.pids).values())
        self.cpu = time.process_time()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        self.app_cpu = time.process_time() - self.cpu
        self.db_cpu = sum(cpu_by_pid(self.pids).values()) - self.db_cpu
        self.load = os.getloadavg()[0]

    def report(self, name: str) -> None:
        print(f"{name}_s={self.seconds:.2f}")
        print(f"{name}_app_cpu_s={self.app_cpu:.2f}")
        print(f"{name}_db_cpu_s={self.db_cpu:.2f}")
        print(f"{name}_load={self.load:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args(argv)
    db = "cdp_bench_quick" if args.quick else "cdp_bench"
    url = os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{db}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp_site.settings")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings

    # Pages render static URLs; the production manifest needs `collectstatic`, not measured here.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from compliance.dashboard import dashboard_refresh as requests_refresh
    from integrations.dashboard import dashboard_refresh as syncs_refresh
    from profiles.dashboard import dashboard_refresh as profiles_refresh
    from profiles.scores.churn import churn_train
    from profiles.scores.rfm import rfm_recompute
    from segments.dashboard import dashboard_refresh as segments_refresh
    from segments.journeys.spec import Funnel, Period, Step
    from segments.journeys.sql import funnel_run

    # A connection open before measuring, so its backend is among those measured.
    with connection.cursor() as cursor:
        cursor.execute("SELECT profiles, events FROM bench_dataset WHERE name = 'main'")
        profiles, events = cursor.fetchone()
    print(f"profiles={profiles}")
    print(f"events={events}")
    print(f"load_before={os.getloadavg()[0]:.2f}")

    with Meter(url) as rfm:
        run = rfm_recompute()
    print(f"rfm_customers={run.scored}")
    rfm.report("rfm_recompute")

    with Meter(url) as churn:
        model = churn_train()
    details = model.details
    print(f"churn_customers={details.get('customers')}")
    print(f"churn_auc={details.get('auc')}")
    print(f"churn_baseline_auc={details.get('baseline_auc')}")
    print(f"churn_offered={'yes' if details.get('offered') else 'no'}")
    print(f"churn_scored={model.scored}")
    churn.report("churn_train")

    today = dt.datetime.now(dt.UTC).date()
    funnel = Funnel(
        tuple(Step(name) for name in FUNNEL_STEPS),
        Period(today - dt.timedelta(days=29), today),
        7,
    )
    rows = funnel_run(funnel)  # warm the cache
    print("funnel_reached=" + ",".join(str(r["reached"]) for r in rows))
    timings = []
    with Meter(url) as funnel_meter:
        for _ in range(args.runs):
            started = time.perf_counter()
            funnel_run(funnel)
            timings.append((time.perf_counter() - started) * 1000)
    funnel_ms = min(timings)
    print(f"funnel_4_steps_30_days_ms={funnel_ms:.0f}")
    print(f"funnel_4_steps_30_days_median_ms={statistics.median(timings):.0f}")
    print(f"funnel_runs={args.runs}")
    funnel_meter.report("funnel_all_runs")

    with Meter(url) as refresh:
        for refresh_panel in (profiles_refresh, segments_refresh, syncs_refresh, requests_refresh):
            refresh_panel()
    refresh.report("dashboard_refresh")

    user, _ = get_user_model().objects.get_or_create(
        username="bench_dashboard", defaults={"is_superuser": True, "is_staff": True}
    )
    client = Client()
    client.force_login(user)
    for path in ("/", *PANELS):  # warm
        status = client.get(path, secure=True).status_code
        if status != 200:
            raise SystemExit(f"{path} answered {status}")
    home_ms, panel_ms, sequential_ms, dashboard_ms = [], {p: [] for p in PANELS}, [], []
    with Meter(url) as dashboard:
        for _ in range(args.requests):
            started = time.perf_counter()
            client.get("/", secure=True)
            home = (time.perf_counter() - started) * 1000
            slowest = 0.0
            for path in PANELS:
                before = time.perf_counter()
                client.get(path, secure=True, HTTP_HX_REQUEST="true")
                took = (time.perf_counter() - before) * 1000
                panel_ms[path].append(took)
                slowest = max(slowest, took)
            home_ms.append(home)
            sequential_ms.append((time.perf_counter() - started) * 1000)
            # The browser loads the panels side by side once the page is in.
            dashboard_ms.append(home + slowest)
    p95 = percentile(dashboard_ms, 0.95)
    print(f"dashboard_requests={args.requests}")
    print(f"dashboard_home_page_p95_ms={percentile(home_ms, 0.95):.0f}")
    for path, timings in panel_ms.items():
        name = path.strip("/").replace("/", "_")
        print(f"{name}_p95_ms={percentile(timings, 0.95):.0f}")
    print(f"dashboard_all_requests_one_after_another_p95_ms={percentile(sequential_ms, 0.95):.0f}")
    print(f"dashboard_p50_ms={percentile(dashboard_ms, 0.5):.0f}")
    print(f"dashboard_p95_ms={p95:.0f}")
    dashboard.report("dashboard_all_requests")

    met = funnel_ms < FUNNEL_TARGET_MS and p95 < DASHBOARD_TARGET_MS
    print(f"targets_met={'yes' if met else 'no'}")
    print(
        f"headline=RFM recompute {rfm.seconds:.1f} s, churn training {churn.seconds:.1f} s, "
        f"4-step funnel over 30 days {funnel_ms:.0f} ms (target < {FUNNEL_TARGET_MS:.0f} ms), "
        f"home dashboard p95 {p95:.0f} ms (target < {DASHBOARD_TARGET_MS:.0f} ms) "
        f"on {profiles} profiles and {events} events, load {os.getloadavg()[0]:.1f}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
