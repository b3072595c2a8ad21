"""Structured logging: one JSON object per line, with the extra fields a caller passes."""

import json
import logging
import logging.config

from django.conf import settings

from cdp_site.celery import _log_task_finish, _log_task_start
from cdp_site.gunicorn_conf import logconfig_dict
from cdp_site.logging import JsonFormatter


def test_json_formatter_includes_extra_fields():
    record = logging.makeLogRecord(
        {"name": "cdp.test", "levelname": "INFO", "msg": "hello %s", "args": ("world",)}
    )
    record.task_id = "abc"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello world"
    assert line["task_id"] == "abc"
    assert line["level"] == "INFO"


def test_tasks_log_start_and_finish_with_ids(caplog):
    class FakeTask:
        name = "cdp_site.worker_ping"

    with caplog.at_level(logging.INFO, logger="cdp.tasks"):
        _log_task_start(task_id="t-1", task=FakeTask())
        _log_task_finish(task_id="t-1", task=FakeTask(), state="SUCCESS")
    started, finished = caplog.records
    assert (started.message, started.task_id) == ("task started", "t-1")
    assert (finished.message, finished.task_id, finished.state) == (
        "task finished",
        "t-1",
        "SUCCESS",
    )
    assert finished.duration_ms >= 0


def test_gunicorns_own_lines_are_json_too(capsys):
    logging.config.dictConfig(logconfig_dict)
    try:
        logging.getLogger("gunicorn.error").info("Booting worker with pid: %s", 42)
        line = capsys.readouterr().out.strip().splitlines()[-1]
        assert json.loads(line)["message"] == "Booting worker with pid: 42"
    finally:
        logging.config.dictConfig(settings.LOGGING)
