"""gunicorn's settings for production: its own log lines as JSON, like the app's.

    gunicorn -c python:cdp_site.gunicorn_conf cdp_site.wsgi -w 4 -b 0.0.0.0:8000

Without it gunicorn writes its start-up, worker and timeout lines as plain text.
"""

_JSON_TO_STDOUT = {"handlers": ["stdout"], "level": "INFO", "propagate": False}

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "cdp_site.logging.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        }
    },
    "root": {"handlers": ["stdout"], "level": "INFO"},
    "loggers": {"gunicorn.error": _JSON_TO_STDOUT, "gunicorn.access": _JSON_TO_STDOUT},
}
