"""The Celery worker starts as `make run` runs it: prefork pool, every task module imported."""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_prefork_worker_starts_and_reports_ready(tmp_path):
    env = {
        **os.environ,
        "CDP_VAR_DIR": str(tmp_path),
        "CELERY_BROKER_URL": "filesystem://",
        "DJANGO_SETTINGS_MODULE": "cdp_site.settings",
    }
    # The embedded default (SQLite): the import order differs from PostgreSQL's, and a cycle
    # between settings-referenced modules showed only there.
    for name in ("CELERY_TASK_ALWAYS_EAGER", "DATABASE_URL"):
        env.pop(name, None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "cdp_site", "worker", "--concurrency=1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = worker.stdout.readline()
            if not line and worker.poll() is not None:
                break
            output.append(line)
            if "ready." in line:
                break
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
    text = "".join(output)
    assert "ready." in text, text[-3000:]
    assert "Error" not in text, text[-3000:]
