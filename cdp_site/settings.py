"""Django settings, read from the environment.

Defaults give the embedded set-up that `make run` uses (SQLite in WAL mode and a Celery broker kept
in local folders); production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY, ALLOWED_HOSTS and
DEBUG=false. See README.md for the full list.
"""

from pathlib import Path

import environ
import plotly
from csp.constants import NONE, SELF

from .logging import logging_config
from .queues import TASK_QUEUES, TASK_ROUTES, WorkQueue

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
VAR_DIR = Path(env.str("CDP_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# Django's debug pages (tracebacks, the URL list on a 404) only when asked for explicitly.
DEBUG = env.bool("DEBUG", default=False)
# The local demo that `make run` starts: plain HTTP on this machine, static files read from the
# source folders, short human-readable log lines at WARNING. DEBUG stays off, so a 404 or an
# error shows the product's own pages, as in production.
DEVELOPMENT = env.bool("CDP_DEVELOPMENT", default=False)
LOCAL = DEBUG or DEVELOPMENT
SECRET_KEY = env.str(
    "SECRET_KEY",
    # Prefixed so that `check --deploy` refuses it: production must set its own.
    default="django-insecure-development-key-set-SECRET_KEY-in-production",
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "guardian",
    "django_celery_beat",
    "cdp_site.apps.CdpSiteConfig",
    "profiles.apps.ProfilesConfig",
    "segments.apps.SegmentsConfig",
    "integrations.apps.IntegrationsConfig",
    "compliance.apps.ComplianceConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "cdp_site.middleware.PrivateResponsesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "cdp_site.middleware.PageLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
]

# Content-Security-Policy: scripts, styles, fonts and images only from this site (htmx, Plotly
# and the API docs are served from `static/`), no inline script or style, no eval, no framing.
# Data for scripts travels in `json_script` blocks, which are not run. Report-only from the
# environment, to try a change on a live site first.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
if env.bool("CSP_REPORT_ONLY", default=False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY, CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY, None

CSRF_FAILURE_VIEW = "cdp_site.views.csrf_failure"
# Behind a reverse proxy: the header in which it passes the client's address (e.g.
# X-Forwarded-For), for the login limits. Empty: the connection's own address.
CDP_CLIENT_IP_HEADER = env.str("CDP_CLIENT_IP_HEADER", default="")
# The tracking processes of a production deployment serve the tracking API and webhooks only
# (cdp_site/urls_tracking.py); the others serve everything.
CDP_TRACKING_ONLY = env.bool("CDP_TRACKING_ONLY", default=False)
ROOT_URLCONF = "cdp_site.urls_tracking" if CDP_TRACKING_ONLY else "cdp_site.urls"
WSGI_APPLICATION = "cdp_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cdp_site.context_processors.navigation",
            ],
        },
    },
]

# Database: SQLite by default, anything django-environ understands via DATABASE_URL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'cdp.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; IMMEDIATE transactions take the write
    # lock up front, so two processes never deadlock upgrading a read lock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Paths that authenticate their own way (tracking write keys, API tokens) rather than by session.
LOGIN_EXEMPT_PATH_PREFIXES = ("/v1/", "/api/", "/static/")

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Plotly's own bundle, served from our origin: no chart pulls anything from outside the app.
    ("plotly", Path(plotly.__file__).parent / "package_data"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not LOCAL
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = LOCAL
if LOCAL:
    # Files come from the finders; the folder only has to exist for WhiteNoise to stay quiet.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Security: strict unless DEBUG or CDP_DEVELOPMENT; each can be relaxed from the environment
# (e.g. behind a TLS proxy).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not LOCAL)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not LOCAL)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not LOCAL)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if LOCAL else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not LOCAL
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not LOCAL)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])

# django-guardian: no anonymous user object; object permissions only for real users.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False
GUARDIAN_RENDER_403 = False

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes a missing credential a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [
        "cdp_site.throttles.UserRateThrottle",
        "cdp_site.throttles.TokenRateThrottle",
    ],
    "DEFAULT_PAGINATION_CLASS": "cdp_site.rest.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "cdp_site.rest.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # JSON only, as the schema says (a file upload names its own parser); anything else is 415.
    "DEFAULT_PARSER_CLASSES": ["cdp_site.parsers.SafeJSONParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Customer data platform API",
    "DESCRIPTION": "Profiles, their events, segments and members. Token or session authentication.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["cdp_site.api.HasAnyRole"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request bodies get their own components, so that required text is `minLength: 1` there.
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "cdp_site.api_schema.document_error_responses",
    ],
    # Choice sets that share a field name ("kind", "status", "type") with another, named here.
    "ENUM_NAME_OVERRIDES": {
        "SyncRunKindEnum": "integrations.models.SyncRun.Kind",
        "SyncRunStatusEnum": "integrations.models.SyncRun.Status",
        "RequestTypeEnum": "compliance.models.DataSubjectRequest.Type",
        "QuarantineStatusEnum": "integrations.models.QuarantinedMessage.Status",
    },
}

# Celery: a broker kept in local folders by default (no server to install), Redis or RabbitMQ
# in production.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Broadcast (control) messages: kombu's default is a "control" folder in the working
        # directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # The folder is polled; at the default of one second a backlog drains at a few tasks/s.
        "polling_interval": 0.1,
    }
    _default_result_backend = f"file://{VAR_DIR / 'celery-results'}"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "celery-results").mkdir(parents=True, exist_ok=True)
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    _default_result_backend = CELERY_BROKER_URL
else:
    _default_result_backend = "rpc://"
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=_default_result_backend)
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
# One queue per workload (cdp_site/queues.py), so resolution never waits behind segment refreshes.
CELERY_TASK_QUEUES = TASK_QUEUES
CELERY_TASK_ROUTES = TASK_ROUTES
CELERY_TASK_DEFAULT_QUEUE = WorkQueue.DEFAULT.value
# While publishing is known to fail, requests skip it for this many seconds instead of each
# waiting out the publish retries; the worker queues a resolution sweep when it reconnects.
CDP_BROKER_RETRY_SECONDS = env.float("CDP_BROKER_RETRY_SECONDS", default=5.0)
# Queued by every worker each time it (re)connects to the broker: whatever was accepted while
# the broker was down is caught up without waiting for beat's schedule (or without beat at all).
CDP_TASKS_ON_BROKER_CONNECT = ("profiles.resolve_events", "segments.refresh_pending")
# A full segment refresh stops after this long and says so on the segment's page.
CDP_SEGMENT_REFRESH_BUDGET_SECONDS = env.float("CDP_SEGMENT_REFRESH_BUDGET_SECONDS", default=600.0)

# Costs capped: what one request may spend (README: "Limits").
# A live count (the builder's, the API's preview) runs each statement under this time limit,
# refuses a definition costing more than this before it runs (a condition costs 1, an event
# condition 3, a text search 5), and runs at most this many at once per person.
CDP_LIVE_QUERY_TIMEOUT_MS = env.int("CDP_LIVE_QUERY_TIMEOUT_MS", default=10_000)
CDP_LIVE_PREVIEW_MAX_COST = env.int("CDP_LIVE_PREVIEW_MAX_COST", default=300)
CDP_LIVE_PREVIEWS_PER_USER = env.int("CDP_LIVE_PREVIEWS_PER_USER", default=2)
# Profile searches (the customer 360's and the API's) stop after this long, with a message.
CDP_SEARCH_TIMEOUT_MS = env.int("CDP_SEARCH_TIMEOUT_MS", default=10_000)

# Abuse throttled (README: "Limits"). Rates are "<requests>/<s|min|hour|day>".
# REST API: per person (whatever they authenticate with) and per API token.
CDP_API_RATE_PER_USER = env.str("CDP_API_RATE_PER_USER", default="3000/min")
CDP_API_RATE_PER_TOKEN = env.str("CDP_API_RATE_PER_TOKEN", default="3000/min")
# Tracking API: requests per source, and requests with an unknown write key per client address.
CDP_TRACKING_RATE_PER_SOURCE = env.str("CDP_TRACKING_RATE_PER_SOURCE", default="1000/s")
CDP_TRACKING_BAD_KEYS_PER_ADDRESS = env.str("CDP_TRACKING_BAD_KEYS_PER_ADDRESS", default="100/min")

# A broker that is down must not hold a person's request for long: publishing gives up after
# about a second (the scheduled runs catch up), and connecting after two.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.3,
    "interval_max": 0.5,
}
# No task runs without end: resolution works in batches and stops after `RESOLVE_MAX_BATCHES`
# (queuing a follow-up), segment refreshes take seconds. Well under Redis's one-hour visibility
# timeout, after which an unacknowledged task would be handed to a second worker.
CELERY_TASK_SOFT_TIME_LIMIT = 20 * 60
CELERY_TASK_TIME_LIMIT = 25 * 60
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Beat reads its schedule from the database (django-celery-beat): the entries below are written
# there when beat starts, and the sources' schedules are rows a person changes without a restart.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE: dict = {
    # Identity resolution is queued by each ingest; the sweep resolves anything a lost task left.
    # Each entry expires by its next run: while no worker runs, they do not pile up.
    "profiles-resolve-sweep": {
        "task": "profiles.resolve_events",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    # Real-time refresh requests a lost task left (the task is queued after each resolution).
    "segments-refresh-pending-sweep": {
        "task": "segments.refresh_pending",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    # Full segment refresh: catches time windows that expire without any new event.
    "segments-refresh-all": {
        "task": "segments.refresh_all",
        "schedule": 3600.0,
        "options": {"expires": 3600},
    },
    # The event table's monthly partitions, created months ahead (PostgreSQL; nothing on SQLite).
    "profiles-event-partitions-ensure": {
        "task": "profiles.event_partitions_ensure",
        "schedule": 24 * 3600.0,
        "options": {"expires": 24 * 3600},
    },
    # Computed traits of every profile (days since last seen moves daily; windows expire).
    "profiles-computed-traits": {
        "task": "profiles.computed_traits_compute",
        "schedule": 6 * 3600.0,
        "options": {"expires": 6 * 3600},
    },
    # The data catalogue (trait, event, property and context paths, their types and classes),
    # rescanned from a sample; resolution teaches it each batch's new fields in between.
    "profiles-refresh-catalogue": {
        "task": "profiles.refresh_catalogue",
        "schedule": 6 * 3600.0,
        "options": {"expires": 6 * 3600},
    },
    # Events past their source's retention period (compliance), in bounded batches.
    "compliance-retention": {
        "task": "compliance.retention_apply",
        "schedule": 6 * 3600.0,
        "options": {"expires": 6 * 3600},
    },
    # Customers' RFM scores, and the churn model retrained (and measured) on the latest data.
    "profiles-insights-rfm": {
        "task": "profiles.insights_rfm_recompute",
        "schedule": 6 * 3600.0,
        "options": {"expires": 6 * 3600},
    },
    "profiles-insights-churn": {
        "task": "profiles.insights_churn_train",
        "schedule": 24 * 3600.0,
        "options": {"expires": 24 * 3600},
    },
    # The home dashboard's panels: each app's numbers, kept for the pages to read.
    **{
        f"{app}-insights-dashboard": {
            "task": f"{app}.insights_dashboard_refresh",
            "schedule": 300.0,
            "options": {"expires": 300},
        }
        for app in ("profiles", "segments", "integrations", "compliance")
    },
    # Sync runs whose worker died (no heartbeat) resume from their last committed checkpoint.
    "integrations-sync-runs-sweep": {
        "task": "integrations.sync_runs_sweep",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
}

# Connector secrets: Fernet keys, comma-separated; the first encrypts, all decrypt (rotation:
# put a new key first, run `manage.py secrets_reencrypt`, then drop the old one). Empty: a key
# derived from SECRET_KEY.
CDP_SECRET_KEYS = env.list("CDP_SECRET_KEYS", default=[])
# Sync runs: a running run with no committed batch for this long lost its worker and is resumed.
CDP_SYNC_STALE_SECONDS = env.float("CDP_SYNC_STALE_SECONDS", default=300.0)
# Transient connector failures: retried this many times in a row, waiting base * 2^n seconds
# (at most the cap, with jitter), or what the source's Retry-After asks (at most the cap).
CDP_SYNC_RETRY_ATTEMPTS = env.int("CDP_SYNC_RETRY_ATTEMPTS", default=6)
CDP_SYNC_RETRY_BASE_SECONDS = env.float("CDP_SYNC_RETRY_BASE_SECONDS", default=2.0)
CDP_SYNC_RETRY_MAX_SECONDS = env.float("CDP_SYNC_RETRY_MAX_SECONDS", default=120.0)
# A run's task hands over to a fresh task after this long (under the task time limits).
CDP_SYNC_TASK_BUDGET_SECONDS = env.float("CDP_SYNC_TASK_BUDGET_SECONDS", default=15 * 60.0)
# Per-record errors kept per run (the rest are counted).
CDP_SYNC_ERRORS_KEPT = env.int("CDP_SYNC_ERRORS_KEPT", default=1000)

# Identity resolution: the country assumed for phone numbers written without a country code.
CDP_PHONE_DEFAULT_REGION = env.str("CDP_PHONE_DEFAULT_REGION", default="US")

# CSV uploads: the largest file accepted (streamed to disk under VAR_DIR/csv_uploads), and the
# rows an import stores per batch (one transaction and one checkpoint each).
CDP_CSV_MAX_BYTES = env.int("CDP_CSV_MAX_BYTES", default=2 * 1024**3)
CDP_CSV_BATCH_ROWS = env.int("CDP_CSV_BATCH_ROWS", default=5000)
# Uploaded files and their bad-row reports are deleted this many days after their upload (their
# rows live on as events); checked daily.
CDP_CSV_KEEP_DAYS = env.int("CDP_CSV_KEEP_DAYS", default=30)
CELERY_BEAT_SCHEDULE["integrations-csv-uploads-expire"] = {
    "task": "integrations.csv_uploads_expire",
    "schedule": 24 * 3600.0,
    "options": {"expires": 3600},
}

# File export destinations write only under this folder, whatever a destination's settings say.
CDP_EXPORT_ROOT = Path(env.str("CDP_EXPORT_ROOT", default=str(VAR_DIR / "exports")))

# JSON lines by default (production's log shipper parses them); "text" in development.
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEVELOPMENT else "json")
LOG_LEVEL = env.str("LOG_LEVEL", default="WARNING" if DEVELOPMENT else "INFO")
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL, development=DEVELOPMENT)

# Activation (audience syncs and event forwarding).
# Records per delivery request, at most (each connector's own limit applies below it).
CDP_AUDIENCE_BATCH_SIZE = env.int("CDP_AUDIENCE_BATCH_SIZE", default=5000)
CDP_FORWARD_BATCH_SIZE = env.int("CDP_FORWARD_BATCH_SIZE", default=500)
# A run holds its destination's delivery lease this long past each batch (a run whose worker
# died frees its destination after it).
CDP_DESTINATION_LEASE_SECONDS = env.float("CDP_DESTINATION_LEASE_SECONDS", default=600.0)
# A profile written this long before a run's plan is hashed again by the next run (a write whose
# transaction was still open when the plan read the profiles).
CDP_AUDIENCE_CHANGE_MARGIN_SECONDS = env.float("CDP_AUDIENCE_CHANGE_MARGIN_SECONDS", default=300.0)
# A destination whose runs fail this many times in a row is paused until an admin resumes it.
CDP_DESTINATION_PAUSE_AFTER = env.int("CDP_DESTINATION_PAUSE_AFTER", default=3)
# Interval audience syncs that are due start every minute.
CELERY_BEAT_SCHEDULE["integrations-audience-syncs-due"] = {
    "task": "integrations.audience_syncs_due",
    "schedule": 60.0,
    "options": {"expires": 60},
}
# Enabled event forwards with events waiting start a run every minute.
CELERY_BEAT_SCHEDULE["integrations-event-forwards-due"] = {
    "task": "integrations.event_forwards_due",
    "schedule": 60.0,
    "options": {"expires": 60},
}
