"""Real servers for tests that need the production process model: gunicorn with the shipped
configuration, on the test database, logging to a file the test reads."""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """The URL of the database this test runs on (PostgreSQL), for a server process."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class GunicornServer:
    """gunicorn with `cdp_site.gunicorn_conf`, as production starts it, on a free port."""

    def __init__(self, workdir: Path, *, workers: int = 1, env: dict | None = None):
        self.port = free_port()
        self.workdir = workdir
        self.log_path = workdir / "gunicorn.log"
        self.workers = workers
        self.env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "DJANGO_SETTINGS_MODULE": "cdp_site.settings",
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CDP_VAR_DIR": str(workdir / "var"),
            "CONN_MAX_AGE": "0",
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "GunicornServer":
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603
            [
                GUNICORN,
                "-c",
                "python:cdp_site.gunicorn_conf",
                "cdp_site.wsgi",
                "-w",
                str(self.workers),
                "-b",
                f"127.0.0.1:{self.port}",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_up()
        return self

    def _wait_until_up(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("timed out waiting for gunicorn")

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def have_redis() -> bool:
    return shutil.which("redis-server") is not None
