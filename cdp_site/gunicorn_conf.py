"""gunicorn's settings for production: its own log lines as JSON, like the app's.

    gunicorn -c python:cdp_site.gunicorn_conf cdp_site.wsgi -w 4 -b 0.0.0.0:8000

Without it gunicorn writes its start-up, worker and timeout lines as plain text.

The access log names no credential and no personal data: gunicorn's default line carries the
Basic auth user (a tracking source's write key), the query string (searches by e-mail or
phone) and the referrer (the same, from the page before). Each line has the client's address,
the time, the method, the path without its query, the status, the size, the duration and the
user agent.
"""

access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'

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
