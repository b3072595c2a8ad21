"""What the benchmark scripts share: starting the app's commands, waiting for the server, reading
the CPU time of processes and of a database's backends, percentiles."""

from __future__ import annotations

import http.client
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")


def manage(env: dict, *args: str) -> str:
    """`manage.py args` with `env`; its standard output."""
    return subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def server_env(url: str, var_dir: str, broker: str) -> dict:
    """The environment of the app's processes under a benchmark: production settings on `url`
    and `broker`, quiet logs, files under `var_dir`."""
    return {
        **os.environ,
        "CELERY_BROKER_URL": broker,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "cdp_site.settings",
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CDP_VAR_DIR": var_dir,
        "LOG_LEVEL": "WARNING",
        "CONN_MAX_AGE": "600",
    }


def wait_for_server(port: int, timeout: float = 60.0) -> None:
    """Until the tracking API answers on `port` (its CORS preflight), or exit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("OPTIONS", "/v1/batch")
            if conn.getresponse().status == 204:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds used so far by each of these processes (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


def database_pids(url: str) -> list[int]:
    """The backends connected to the database of `url` (but this one)."""
    import psycopg

    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return [row[0] for row in rows]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]
