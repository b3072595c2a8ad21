"""Log lines: one JSON object per line in production (any log shipper can parse what the app
says), short human-readable lines in development (`make run`'s console).

`logging_config` builds the `LOGGING` setting from the chosen format and level.
"""

import json
import logging
from datetime import UTC, datetime

from django.core.exceptions import ImproperlyConfigured

# Attributes every LogRecord has; anything else was passed with `extra=` and belongs in the line.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

LOG_FORMATS = ("json", "text")


def _extra_fields(record: logging.LogRecord) -> dict:
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _STANDARD_ATTRS and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_extra_fields(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class ConsoleFormatter(logging.Formatter):
    """`16:08:27 WARNING cdp.tasks: task failed task_id=abc state=FAILURE`: the time of day,
    level, logger and message, then the extra fields as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, tz=UTC).astimezone().strftime("%H:%M:%S")
        extras = " ".join(f"{key}={value}" for key, value in _extra_fields(record).items())
        line = f"{at} {record.levelname} {record.name}: {record.getMessage()}"
        if extras:
            line = f"{line} {extras}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def logging_config(*, log_format: str, level: str, development: bool = False) -> dict:
    """The `LOGGING` setting: every line on stdout, in `log_format` ("json" or "text").

    In `development`, kombu's warning that the local folder broker has no host name (said at
    every connection, about nothing wrong) is left out.
    """
    if log_format not in LOG_FORMATS:
        raise ImproperlyConfigured(
            f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}."
        )
    formatter = JsonFormatter if log_format == "json" else ConsoleFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "line"}},
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            "django": {"handlers": ["stdout"], "level": level, "propagate": False},
            "celery": {"handlers": ["stdout"], "level": level, "propagate": False},
            **({"kombu.connection": {"level": "ERROR"}} if development else {}),
        },
    }
