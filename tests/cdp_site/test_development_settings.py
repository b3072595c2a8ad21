"""`make run`'s development mode: readable log lines at a calmer level, no debug pages; JSON
lines stay the production default."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from cdp_site.logging import ConsoleFormatter, JsonFormatter, logging_config

ROOT = Path(__file__).resolve().parents[2]
SHOW = (
    "import json; from django.conf import settings; "
    "print(json.dumps({'debug': settings.DEBUG, 'format': settings.LOG_FORMAT, "
    "'level': settings.LOG_LEVEL, 'formatter': settings.LOGGING['formatters']['line']['()'], "
    "'ssl_redirect': settings.SECURE_SSL_REDIRECT, 'finders': settings.WHITENOISE_USE_FINDERS, "
    "'kombu': settings.LOGGING['loggers'].get('kombu.connection', {}).get('level')}))"
)


def settings_under(tmp_path: Path, **env: str) -> dict:
    """The settings Django reads in a fresh process with `env` (and none of this test run's)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CDP_", "LOG_", "DEBUG"))}
    clean |= {"DJANGO_SETTINGS_MODULE": "cdp_site.settings", "CDP_VAR_DIR": str(tmp_path)}
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-c", f"import django; django.setup(); {SHOW}"],
        env=clean | env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_defaults_are_json_lines_at_info_without_debug(tmp_path):
    shown = settings_under(
        tmp_path,
    )
    assert shown["format"] == "json"
    assert shown["level"] == "INFO"
    assert shown["formatter"] == "cdp_site.logging.JsonFormatter"
    assert shown["debug"] is False
    assert shown["ssl_redirect"] is True


def test_development_logs_readable_lines_at_warning_and_keeps_debug_pages_off(tmp_path):
    shown = settings_under(tmp_path, CDP_DEVELOPMENT="true")
    assert shown["format"] == "text"
    assert shown["level"] == "WARNING"
    assert shown["formatter"] == "cdp_site.logging.ConsoleFormatter"
    assert shown["debug"] is False
    assert shown["ssl_redirect"] is False  # plain HTTP on this machine
    assert shown["finders"] is True  # static files straight from the source folders
    assert shown["kombu"] == "ERROR"  # no warning about the local broker's host name


def test_each_choice_can_be_overridden(tmp_path):
    shown = settings_under(tmp_path, CDP_DEVELOPMENT="true", LOG_FORMAT="json", LOG_LEVEL="INFO")
    assert (shown["format"], shown["level"]) == ("json", "INFO")
    assert settings_under(tmp_path, DEBUG="true")["debug"] is True


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT must be one of json, text"):
        logging_config(log_format="xml", level="INFO")


def test_a_console_line_is_short_and_readable():
    record = logging.makeLogRecord(
        {"name": "cdp.tasks", "levelname": "WARNING", "msg": "task %s", "args": ("failed",)}
    )
    record.task_id = "t-1"
    line = ConsoleFormatter().format(record)
    assert line.endswith(" WARNING cdp.tasks: task failed task_id=t-1")
    assert not line.startswith("{")
    assert json.loads(JsonFormatter().format(record))["task_id"] == "t-1"


def test_run_local_prints_the_address_and_logins_last():
    script = (ROOT / "scripts" / "run_local.sh").read_text()
    assert "export DEBUG" not in script
    assert 'CDP_DEVELOPMENT="${CDP_DEVELOPMENT:-true}"' in script
    tail = script[script.index("runserver") :]
    assert tail.index('echo "$logins"') < tail.index("Open http://$ADDR/") < tail.index("wait")
