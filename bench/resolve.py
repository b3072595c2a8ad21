"""Benchmark of identity resolution and of the customer 360's response times.

    .venv/bin/python bench/resolve.py                  # both parts
    .venv/bin/python bench/resolve.py --part resolve   # events resolved per second only
    .venv/bin/python bench/resolve.py --part pages     # p95 of search and profile page only
    .venv/bin/python bench/resolve.py --quick          # 2,000 people, 50 requests: about a minute

Part 1, resolution (PostgreSQL, DATABASE_URL, default .../cdp_b_bench_<profiles>, created and
migrated if missing): the synthetic shop (`integrations/demo_data.py`, --profiles people, about 23
events each) is stored once through the tracking ingest path, unresolved. Each run then
forgets every profile, identity and merge, marks all events unresolved, and times
`events_resolve_pending` from scratch, first in one worker process, then in each of --workers
(default 2 and 4) processes at once (as Celery workers would run it), prints the CPU seconds of
the worker processes and of their PostgreSQL backends beside each, and checks that the result
has one live profile per person.

Part 2, pages (the 1M-profile / 10M-event dataset built by bench/dataset.py in cdp_bench, or
PAGES_DATABASE_URL): --requests searches of each kind (e-mail typed in another case, name, user
id, profile id, phone in national format) and --requests full customer 360 pages of random
profiles (a tenth of them the heaviest), through Django's full request stack as a logged-in
support agent, DEBUG off. Everything the run writes (the user, sessions, audit rows) is rolled
back at the end.

Prints `name=value` lines; the load average before each part is printed so a figure can be read
in context (the machine is shared).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESOLVE_URL = "postgres://postgres@127.0.0.1:5432/cdp_b_bench_{profiles}"
PAGES_URL = "postgres://postgres@127.0.0.1:5432/cdp_bench"


def _setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp_site.settings")
    os.environ["DEBUG"] = "false"
    # Resolution tasks queued by the ingest path are not run by anyone here.
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def _database_ensure(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- part 1: resolution ------------------------------------------------------------------------


def _reset_resolution() -> None:
    """Forget every profile so the stored events can be resolved again from scratch."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT conrelid::regclass::text FROM pg_constraint
            WHERE contype = 'f' AND confrelid = 'profiles_profile'::regclass
              AND conrelid::regclass::text NOT IN ('profiles_event', 'profiles_identity',
                  'profiles_profilemerge', 'profiles_profile')
            """
        )
        derived = [row[0] for row in cursor.fetchall()]
        if derived:
            cursor.execute(f"TRUNCATE {', '.join(derived)}")
        cursor.execute(
            "UPDATE profiles_event SET profile_id = NULL, resolved_at = NULL "
            "WHERE profile_id IS NOT NULL OR resolved_at IS NOT NULL"
        )
        cursor.execute("DELETE FROM profiles_profilemerge")
        cursor.execute("DELETE FROM profiles_identity")
        cursor.execute("UPDATE profiles_profile SET merged_into_id = NULL")
        cursor.execute("DELETE FROM profiles_profile")
        cursor.execute("VACUUM ANALYZE profiles_event")
        cursor.execute("VACUUM ANALYZE profiles_profile")
        cursor.execute("VACUUM ANALYZE profiles_identity")


def _worker(url: str, batch_size: int, ready, go, results) -> None:
    _setup_django(url)
    from django.db import connection
    from harness import cpu_by_pid

    from profiles.identity import events_resolve_pending

    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    ready.put(True)
    go.wait()
    started, cpu, backend_cpu = time.time(), time.process_time(), cpu_by_pid([backend])
    resolved = events_resolve_pending(batch_size=batch_size)
    backend_cpu = cpu_by_pid([backend]).get(backend, 0.0) - backend_cpu.get(backend, 0.0)
    results.put((resolved, started, time.time(), time.process_time() - cpu, backend_cpu))


def _resolve_run(url: str, workers: int, batch_size: int) -> tuple[int, float, float, float]:
    """Resolve everything in `workers` processes that start together; (events, wall seconds,
    CPU seconds of the worker processes, CPU seconds of their PostgreSQL backends)."""
    from django.db import connections

    _reset_resolution()
    connections.close_all()
    ctx = multiprocessing.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    processes = [
        ctx.Process(target=_worker, args=(url, batch_size, ready, go, results))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get()
    go.set()
    outcomes = [results.get() for _ in processes]
    for process in processes:
        process.join()
    resolved = sum(o[0] for o in outcomes)
    elapsed = max(o[2] for o in outcomes) - min(o[1] for o in outcomes)
    return resolved, elapsed, sum(o[3] for o in outcomes), sum(o[4] for o in outcomes)


def part_resolve(args) -> None:
    url = os.environ.get("DATABASE_URL", RESOLVE_URL.format(profiles=args.profiles))
    _database_ensure(url)
    _setup_django(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from integrations.demo_data import shop_messages
    from profiles.models import Event, Profile

    expected = sum(1 for _ in shop_messages(profiles=args.profiles, seed=args.seed))
    if Event.objects.count() != expected:
        print(f"# storing {expected} generated events through the ingest path", flush=True)
        call_command(
            "generate_data", profiles=args.profiles, seed=args.seed, no_resolve=True, verbosity=0
        )
    from django.db.models import Min

    from profiles.event_partitions import event_partitions_ensure

    # Monthly partitions for the generated history (PostgreSQL), as beat keeps them ahead.
    event_partitions_ensure(since=Event.objects.aggregate(at=Min("timestamp"))["at"])
    total = Event.objects.count()
    print(f"resolve_events={total}")
    for workers in sorted({1, *args.workers}):
        print(f"resolve_workers_{workers}_load_average_before={_load()}", flush=True)
        resolved, elapsed, cpu, backend_cpu = _resolve_run(url, workers, args.batch_size)
        if resolved != total:
            raise SystemExit(f"resolved {resolved} of {total} events")
        print(f"resolve_workers_{workers}_seconds={elapsed:.2f}", flush=True)
        print(
            f"resolve_workers_{workers}_cpu_seconds=workers {cpu:.1f}, postgres {backend_cpu:.1f}",
            flush=True,
        )
        print(f"resolve_workers_{workers}_events_per_second={resolved / elapsed:,.0f}", flush=True)
    live = Profile.objects.filter(merged_into__isnull=True).count()
    print(f"resolve_live_profiles={live} (people generated: {args.profiles})")


# -- part 2: pages -----------------------------------------------------------------------------


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 2 else samples[0]


def _national(phone: str) -> str:
    import phonenumbers

    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return phone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def part_pages(args) -> None:
    url = os.environ.get("PAGES_DATABASE_URL", PAGES_URL)
    _setup_django(url)
    from django.conf import settings

    # Pages render static URLs; the production manifest needs `collectstatic`, not measured here.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection, transaction
    from django.test import Client

    from profiles.models import Identity, Profile

    rng = random.Random(args.seed)
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM profiles_profile")
        max_id = cursor.fetchone()[0] or 0
        cursor.execute(
            "SELECT profile_id FROM profiles_event WHERE profile_id IS NOT NULL "
            "GROUP BY profile_id ORDER BY count(*) DESC LIMIT 20"
        )
        heavy = [row[0] for row in cursor.fetchall()]
    if not max_id:
        print("pages_skipped=no profiles in the pages database")
        return
    picked = list(
        Profile.objects.filter(
            pk__in=[rng.randint(1, max_id) for _ in range(args.requests * 3)],
            merged_into__isnull=True,
        ).values_list("pk", "traits")[: args.requests]
    )
    print(f"pages_profiles={Profile.objects.count()}")
    print(f"pages_load_average_before={_load()}")
    ids = [pk for pk, _ in picked]
    user_ids = dict(
        Identity.objects.filter(profile_id__in=ids, kind="user_id").values_list(
            "profile_id", "value"
        )
    )
    queries: dict[str, list[str]] = {
        "email": [],
        "name": [],
        "user_id": [],
        "profile_id": [],
        "phone": [],
    }
    for pk, traits in picked:
        if traits.get("email"):
            queries["email"].append(f" {traits['email'].upper()} ")
        if traits.get("name"):
            queries["name"].append(traits["name"])
        if pk in user_ids:
            queries["user_id"].append(user_ids[pk])
        queries["profile_id"].append(str(pk))
        if traits.get("phone"):
            queries["phone"].append(_national(traits["phone"]))
    page_ids = ids[: args.requests - args.requests // 10] + heavy[: args.requests // 10]

    with transaction.atomic():
        user = get_user_model().objects.create_user("bench_support_agent", password="x")  # noqa: S106
        user.groups.add(Group.objects.get(name="support_agent"))
        client = Client()
        client.force_login(user)
        for query in queries["email"][:5]:  # warm-up: connections, templates, caches
            client.get("/customers/", {"q": query}, secure=True)
        for pk in page_ids[:3]:
            client.get(f"/customers/{pk}/", secure=True)

        search_all: list[float] = []
        for kind, values in queries.items():
            samples = []
            for query in values:
                started = time.perf_counter()
                response = client.get("/customers/", {"q": query}, secure=True)
                samples.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"search {query!r} answered {response.status_code}")
            if samples:
                search_all.extend(samples)
                print(f"search_{kind}_p95_ms={_p95(samples):.1f} (n={len(samples)})")
        print(f"search_p95_ms={_p95(search_all):.1f} (n={len(search_all)})")

        page_samples = []
        for pk in page_ids:
            started = time.perf_counter()
            response = client.get(f"/customers/{pk}/", secure=True)
            page_samples.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"profile {pk} answered {response.status_code}")
        print(f"profile_page_median_ms={statistics.median(page_samples):.1f}")
        print(f"profile_page_p95_ms={_p95(page_samples):.1f} (n={len(page_samples)})")
        transaction.set_rollback(True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("resolve", "pages", "all"), default="all")
    parser.add_argument("--profiles", type=int, default=10_000, help="people generated (part 1)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--workers",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[2, 4],
        help="worker counts to time besides 1, comma-separated (default 2,4)",
    )
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=200, help="requests per kind (part 2)")
    parser.add_argument("--quick", action="store_true", help="2,000 people, 50 requests")
    args = parser.parse_args()
    if args.quick:
        args.profiles, args.requests = min(args.profiles, 2000), min(args.requests, 50)
    if args.part == "all":
        # Each part sets Django up on its own database: run them as two processes.
        for part in ("resolve", "pages"):
            command = [sys.executable, __file__, "--part", part]
            command += ["--profiles", str(args.profiles), "--seed", str(args.seed)]
            command += ["--workers", ",".join(map(str, args.workers))]
            command += ["--batch-size", str(args.batch_size)]
            command += ["--requests", str(args.requests)]
            subprocess.run(command, check=True)
        return
    {"resolve": part_resolve, "pages": part_pages}[args.part](args)


if __name__ == "__main__":
    main()
