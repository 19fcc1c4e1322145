"""Quorum settings: one module, read from environment variables.

Safe defaults for a laptop; production mode (``DJANGO_ENV=production``) refuses to start without
``DJANGO_SECRET_KEY`` and ``DJANGO_ALLOWED_HOSTS``. Importing this module has no side effects: it
reads URLs, it never starts a database or a broker (``config/devservices.py`` does that for
``make run`` / ``make test``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.dbpool import for_transaction_pooler

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DJANGO_ENV = os.environ.get("DJANGO_ENV", "development").strip().lower()
if DJANGO_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured("DJANGO_ENV must be one of development, test, production")
PRODUCTION = DJANGO_ENV == "production"

if PRODUCTION:
    SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
    if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure-"):
        raise ImproperlyConfigured(
            "DJANGO_ENV=production needs DJANGO_SECRET_KEY: at least 50 random characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(64))')"
        )
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_ENV=production needs DJANGO_ALLOWED_HOSTS (comma separated)")
    DEBUG = False
else:
    SECRET_KEY = os.environ.get(
        "DJANGO_SECRET_KEY", "django-insecure-local-development-key-never-use-in-production"
    )
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
    DEBUG = env_bool("DJANGO_DEBUG", DJANGO_ENV == "development")

INSTALLED_APPS = [
    "django.contrib.admin",
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
    "core",  # the shared kernel: the outbox and the event log (core/models.py)
    "clients",
    "billing",
    "annotation",
    "axes",  # sign-in lockout (clients/web/auth.py); its counts live in PostgreSQL
    "csp",
]

MIDDLEWARE = [
    # First: an API request authenticated by its Authorization header alone skips the middleware
    # below that only pages need (config/middleware.py says which and why).
    "config.middleware.ApiFastPathMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "clients.web.errors.DomainErrorPageMiddleware",  # domain errors on pages → a readable error page
    # django-csp's: a Content-Security-Policy on every page (CONTENT_SECURITY_POLICY)
    "config.middleware.CSPMiddleware",
    "config.middleware.JsonPolicyMiddleware",  # and a fixed, strict one on JSON (config/middleware.py)
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clients.web.context.web_nav",
            ],
        },
    }
]

# PostgreSQL is the only database engine (docs/architecture.md). make run / make test set DATABASE_URL.
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://127.0.0.1:5432/quorum")
# DB_CONN_HEALTH_CHECKS (default on): check a persistent connection at the start of each request, so a
# request after a database restart reconnects instead of failing with a 503 (a round trip only when the
# server has sent something on the idle connection: core/postgresql/base.py).
_db = dj_database_url.parse(
    DATABASE_URL,
    conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
    conn_health_checks=env_bool("DB_CONN_HEALTH_CHECKS", True),
)
if _db["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgresql://…)")
# Django's backend with a health check that sends nothing on a quiet connection (core/postgresql/base.py).
_db["ENGINE"] = "core.postgresql"
_db.setdefault("OPTIONS", {})
_db["TEST"] = {"NAME": os.environ.get("DATABASE_TEST_NAME") or None}
# DATABASE_URL may point at PgBouncer in transaction mode (docs/scaleout.md): DATABASE_POOLER=pgbouncer
# then keeps every piece of server state inside one transaction: no server-side cursors, no prepared
# statements, CONN_MAX_AGE 0 unless DB_CONN_MAX_AGE is set (config/dbpool.py says why).
DATABASE_POOLER = os.environ.get("DATABASE_POOLER", "none").strip().lower() or "none"
if DATABASE_POOLER not in {"none", "pgbouncer"}:
    raise ImproperlyConfigured("DATABASE_POOLER must be none or pgbouncer")
if DATABASE_POOLER == "pgbouncer":
    _db = for_transaction_pooler(_db, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))
DATABASES = {"default": _db}
# DATABASE_REPLICA_URL: a streaming replica for reads that may lag (exports, reports, quality, ops and
# invoice pages). Nothing reads from it outside core.dbrouter.replica_reads(); writes, migrations and
# everything that decides money or assignment stay on the primary (core/dbrouter.py, docs/scaleout.md).
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "").strip()
if DATABASE_REPLICA_URL:
    _replica = dj_database_url.parse(
        DATABASE_REPLICA_URL,
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60 if DATABASE_POOLER == "none" else 0),
        conn_health_checks=env_bool("DB_CONN_HEALTH_CHECKS", True),
    )
    if _replica["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must point at PostgreSQL (postgresql://…)")
    _replica["ENGINE"] = _db["ENGINE"]  # the same backend as the primary (core/postgresql/base.py)
    _replica.setdefault("OPTIONS", {})
    # a replica that does not answer costs a page this long once, then is left alone for a while
    _replica["OPTIONS"].setdefault("connect_timeout", env_int("QUORUM_REPLICA_CONNECT_TIMEOUT", 2))
    _replica["TEST"] = {"MIRROR": "default"}  # tests: the same test database, replicated
    DATABASES["replica"] = _replica
    DATABASE_ROUTERS = ["core.dbrouter.ReplicaRouter"]
    # Knows the request and pins its caller to the primary after a write (core/dbrouter.py); only with
    # a replica, so a single-database deployment spends nothing on it per request. Before axes, which
    # must stay last.
    MIDDLEWARE.insert(
        MIDDLEWARE.index("axes.middleware.AxesMiddleware"), "core.dbrouter.ReadYourWritesMiddleware"
    )
# After a write request (not GET/HEAD/OPTIONS), that caller's reads stay on the primary this long.
QUORUM_REPLICA_STICKY_SECONDS = env_int("QUORUM_REPLICA_STICKY_SECONDS", 10)
# Replica reads go to the primary while the replica is further behind than this.
QUORUM_REPLICA_MAX_LAG_SECONDS = env_int("QUORUM_REPLICA_MAX_LAG_SECONDS", 30)
# After the replica failed, this process reads from the primary this long before trying it again.
QUORUM_REPLICA_RETRY_SECONDS = env_int("QUORUM_REPLICA_RETRY_SECONDS", 30)
# An export attempt waits up to this long for the replica to replay what the primary had at its start.
QUORUM_REPLICA_CATCH_UP_SECONDS = env_int("QUORUM_REPLICA_CATCH_UP_SECONDS", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "clients.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "config" / "static"]  # the pages' shared CSS and vendored htmx (static/web/)
# Pages: sign in with an email at /login/; "/" sends each person to their area by role.
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"
# E-mail (password reset, invitations): Django's backend. EMAIL_BACKEND wins when set; else SMTP
# through EMAIL_HOST when that is set, else the console (printed by `make run`). Tests use locmem.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Quorum <no-reply@quorum.local>")
QUORUM_INVITATION_DAYS = env_int("QUORUM_INVITATION_DAYS", 7)  # a team invitation's link expires after
# Self-service sign-up at /signup/ (an organisation and its owner, after e-mail verification).
QUORUM_SIGNUP_ENABLED = env_bool("QUORUM_SIGNUP_ENABLED", not PRODUCTION)
CSRF_FAILURE_VIEW = "clients.web.errors.csrf_failure"  # a readable page, not Django's debug text
# Uploaded attachments and export files go through Django's storage API (annotation/storage.py):
# the local filesystem under QUORUM_MEDIA_ROOT by default; S3-compatible object storage through
# django-storages with QUORUM_STORAGE=s3 (install boto3, see README). Credentials are never
# settings: boto3 reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or a role) from the environment.
QUORUM_STORAGE = os.environ.get("QUORUM_STORAGE", "filesystem").strip().lower()
MEDIA_ROOT = os.environ.get("QUORUM_MEDIA_ROOT") or str(BASE_DIR / "var" / "media")
MEDIA_URL = os.environ.get("QUORUM_MEDIA_URL", "/media/")
if QUORUM_STORAGE == "filesystem":
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
elif QUORUM_STORAGE == "s3":
    AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
    if not AWS_STORAGE_BUCKET_NAME:
        raise ImproperlyConfigured("QUORUM_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME")
    AWS_S3_ENDPOINT_URL = os.environ.get("AWS_S3_ENDPOINT_URL") or None  # MinIO, R2, Ceph…: their URL
    AWS_S3_REGION_NAME = os.environ.get("AWS_S3_REGION_NAME") or None
    AWS_S3_CUSTOM_DOMAIN = os.environ.get("AWS_S3_CUSTOM_DOMAIN") or None
    AWS_LOCATION = os.environ.get("AWS_LOCATION", "")
    AWS_DEFAULT_ACL = None  # the bucket's policy decides
    AWS_QUERYSTRING_AUTH = env_bool("AWS_QUERYSTRING_AUTH", True)  # signed, expiring URLs for private buckets
    AWS_QUERYSTRING_EXPIRE = env_int("AWS_QUERYSTRING_EXPIRE", 7 * 86400)
    AWS_S3_FILE_OVERWRITE = False
    _default_storage = {"BACKEND": "storages.backends.s3.S3Storage"}
else:
    raise ImproperlyConfigured("QUORUM_STORAGE must be filesystem or s3")
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

DATA_UPLOAD_MAX_MEMORY_SIZE = env_int(
    "DATA_UPLOAD_MAX_MEMORY_SIZE", 32 * 1024 * 1024
)  # 10,000 tasks per request

# Redis: broker and cache. A unix socket (the embedded Redis) is accepted as unix:///path.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def _broker_url(redis_url: str) -> str:
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url[len("unix://") :]
    return redis_url


# Every key and queue this deployment (or test run) puts in Redis starts with this prefix, so several
# can share one server (make test sets it per run; see config/devservices.py).
REDIS_KEY_PREFIX = os.environ.get("QUORUM_REDIS_PREFIX", "")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
    }
}

# Celery (docs/reliability.md, "The rules"). Messages carry ids; durable state lives in PostgreSQL.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or _broker_url(REDIS_URL)
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 900)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "socket_timeout": 30,
    "socket_connect_timeout": 5,
    "socket_keepalive": True,
    "health_check_interval": 25,
    "retry_on_timeout": True,
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
if REDIS_KEY_PREFIX:
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = REDIS_KEY_PREFIX
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_RETRY_ON_WORKER_LOST = (
    True  # Celery 5.7: a killed pool child's task is retried, bounded by max_retries
)
CELERY_TASK_DEFAULT_RETRY_DELAY = 10
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 20.0
CELERY_WORKER_MAX_TASKS_PER_CHILD = 1000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# Deliveries wait on clients' servers (up to the outbound timeout): their own queue and worker,
# so a slow receiver cannot starve lease expiry or completion (docs/operations.md).
CELERY_TASK_ROUTES = {
    "core.tasks.deliver": {"queue": "webhooks"},
    # Exports run for minutes: their own queue, so a big export cannot delay lease expiry.
    "annotation.tasks.export_run": {"queue": "exports"},
    # Attachment checks fetch client URLs (up to the outbound timeout): with the other outbound HTTP.
    "annotation.tasks.check_attachments": {"queue": "webhooks"},
    "annotation.tasks.check_attachments_split": {"queue": "webhooks"},
}
QUORUM_EXPORT_RELAY_SECONDS = env_int("QUORUM_EXPORT_RELAY_SECONDS", 15)  # the export relay's period
# Any number of beat processes may run: only the holder of a PostgreSQL session lock sends due tasks
# (config/beat.py). The lock connection goes to PostgreSQL directly: behind a transaction-mode
# pooler set QUORUM_SCHEDULER_DATABASE_URL (default DATABASE_URL). A follower tries the lock every
# QUORUM_BEAT_LEADER_POLL_SECONDS, so it takes over within about that long once the leader is gone.
CELERY_BEAT_SCHEDULER = "config.beat:LeaderScheduler"
QUORUM_SCHEDULER_DATABASE_URL = os.environ.get("QUORUM_SCHEDULER_DATABASE_URL", "")
QUORUM_BEAT_LEADER_POLL_SECONDS = float(os.environ.get("QUORUM_BEAT_LEADER_POLL_SECONDS", "5"))
CELERY_BEAT_SCHEDULE = {
    "expire-leases": {
        "task": "annotation.tasks.expire_leases",
        "schedule": timedelta(seconds=env_int("QUORUM_SWEEP_SECONDS", 15)),
    },
    "dispatch-webhooks": {"task": "core.tasks.dispatch_due_deliveries", "schedule": timedelta(seconds=5)},
    # Endpoint events written in SQL, and finished batches, whose after-commit wake-up was lost.
    "relay-events": {"task": "annotation.tasks.relay_events", "schedule": timedelta(seconds=5)},
    "complete-ready-batches": {
        "task": "annotation.tasks.complete_ready_batches",
        "schedule": timedelta(seconds=30),
    },
    "complete-ready-tasks": {
        "task": "annotation.tasks.complete_ready_tasks",
        "schedule": timedelta(seconds=60),
    },
    "simulate-test-tasks": {
        "task": "annotation.tasks.simulate_pending_test_tasks",
        "schedule": timedelta(seconds=30),
    },
    # Billing (UTC): last month's invoice drafts on the 1st at 02:00, payouts on Mondays, expired keys hourly.
    "generate-monthly-invoices": {
        "task": "billing.tasks.generate_monthly_invoices",
        "schedule": crontab(minute=0, hour=2, day_of_month=1),
    },
    "run-payouts": {
        "task": "billing.tasks.run_payouts",
        "schedule": crontab(minute=0, hour=3, day_of_week=1),
    },
    "prune-idempotency-keys": {
        "task": "billing.tasks.prune_idempotency_keys",
        "schedule": crontab(minute=17),
    },
    "relay-exports": {
        "task": "annotation.tasks.relay_exports",
        "schedule": timedelta(seconds=QUORUM_EXPORT_RELAY_SECONDS),
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "clients.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.exceptions.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + ([] if PRODUCTION else ["rest_framework.renderers.BrowsableAPIRenderer"]),
    "DEFAULT_PARSER_CLASSES": ["core.parsers.StrictJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.negotiation.FastContentNegotiation",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.CredentialRateThrottle"],  # 429 + Retry-After
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Quorum API",
    "DESCRIPTION": (
        "Quorum, an open-source data-annotation marketplace. Authenticate with "
        "`Authorization: Bearer <key>`: a client API key (qk_live_… / qk_test_…) for client "
        "endpoints, a personal access token (qp_…) for annotator work endpoints."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ConsensusMethodEnum": "annotation.models.Project.Consensus",
        "AnnotatorStatusEnum": "annotation.models.Annotator.Status",
    },
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.schema.add_error_responses",
    ],
}

# Quorum's own knobs.
# Each process remembers what a valid API key or token resolved to for this many seconds, so most
# requests authenticate without a query; a key revoked (or a user or client deactivated) in
# another process is refused within this bound (at once in the revoking one). 0 turns it off.
QUORUM_AUTH_CACHE_SECONDS = float(os.environ.get("QUORUM_AUTH_CACHE_SECONDS", "5"))
# A web process sends one worker wake-up for the tasks its submits completed in SQL within this
# many seconds (annotation/lifecycle/notify.py; 0 = one message per completion).
QUORUM_COMPLETION_WAKE_WINDOW = float(os.environ.get("QUORUM_COMPLETION_WAKE_WINDOW", "0.1"))
QUORUM_DEFAULT_LEASE_SECONDS = env_int("QUORUM_DEFAULT_LEASE_SECONDS", 900)
QUORUM_MAX_LIVE_LEASES = env_int("QUORUM_MAX_LIVE_LEASES", 3)
QUORUM_BULK_CREATE_MAX = 10_000
# Workforce and quality (annotation.services.workforce / consensus / review).
# Passing a qualification test makes an applicant active (else staff vet every applicant).
QUORUM_ACTIVATE_ON_QUALIFICATION = env_bool("QUORUM_ACTIVATE_ON_QUALIFICATION", True)
# Removed or suspended from this many projects → suspended platform-wide (0 = never).
QUORUM_SUSPEND_AFTER_BARS = env_int("QUORUM_SUSPEND_AFTER_BARS", 3)
# Gold tasks are served to many annotators and never complete: their overlap (slot cap).
QUORUM_GOLD_OVERLAP = 10_000
# A reviewer's lease on a review item, in seconds.
QUORUM_REVIEW_LEASE_SECONDS = env_int("QUORUM_REVIEW_LEASE_SECONDS", 900)
# Exports: tasks per keyset chunk (memory is bounded by one chunk, whatever the project's size);
# the hard time limit of one attempt (below the broker's visibility timeout, so a running export
# is never redelivered to a second worker); attempts before a job is marked failed.
QUORUM_EXPORT_CHUNK_SIZE = env_int("QUORUM_EXPORT_CHUNK_SIZE", 1000)
QUORUM_EXPORT_TIME_LIMIT = env_int("QUORUM_EXPORT_TIME_LIMIT", 600)
QUORUM_EXPORT_MAX_ATTEMPTS = env_int("QUORUM_EXPORT_MAX_ATTEMPTS", 3)
# Attachments uploaded through the API: size cap and the content types accepted (sniffed from the
# bytes, never taken from the client's header). No SVG or HTML: they can carry scripts.
QUORUM_ATTACHMENT_MAX_BYTES = env_int("QUORUM_ATTACHMENT_MAX_BYTES", 25 * 1024 * 1024)
QUORUM_ATTACHMENT_TYPES = env_list(
    "QUORUM_ATTACHMENT_TYPES",
    "image/png,image/jpeg,image/gif,image/webp,application/pdf,video/mp4,application/x-pcd",
)
# Absolute links in webhooks (export.ready download URL); without it they are paths.
# Fetch and decode each new image task's attachment; one that cannot be served sets the task to
# error with Scale's error callback (annotation/services/task_errors.py).
QUORUM_CHECK_ATTACHMENTS = env_bool("QUORUM_CHECK_ATTACHMENTS", True)
QUORUM_PUBLIC_URL = os.environ.get("QUORUM_PUBLIC_URL", "").rstrip("/")
# Outbound HTTP (callbacks, webhooks): loopback and private targets are refused unless allowed.
QUORUM_OUTBOUND_ALLOW_LOOPBACK = env_bool("QUORUM_OUTBOUND_ALLOW_LOOPBACK", False)
QUORUM_OUTBOUND_TIMEOUT_SECONDS = float(os.environ.get("QUORUM_OUTBOUND_TIMEOUT_SECONDS", "15"))
QUORUM_OUTBOUND_MAX_RESPONSE_BYTES = env_int("QUORUM_OUTBOUND_MAX_RESPONSE_BYTES", 64 * 1024)
# Webhook retries: the delay before each retry, in seconds (±10 % jitter). Nine attempts over
# about a day (23.6 h), as the foundation issue asks; Standard Webhooks' example spans ~3 days.
QUORUM_WEBHOOK_RETRY_SCHEDULE = [5, 300, 1800, 3600, 7200, 14400, 21600, 36000]
# Billing. Amounts in minor units of the currency concerned.
QUORUM_PAYOUT_MINIMUM = env_int(
    "QUORUM_PAYOUT_MINIMUM", 1000
)  # e.g. 10.00: smaller payables wait for the next period
# The platform's minimum margin, in percent of the price: a project (or rate card) whose price per
# task would leave less than this after paying every answer it may take (pay per answer × max
# overlap) is refused. 0: only prices that pay annotators more than the client is charged are.
QUORUM_MIN_MARGIN = env_int("QUORUM_MIN_MARGIN", 0)
if not 0 <= QUORUM_MIN_MARGIN <= 99:
    raise ImproperlyConfigured("QUORUM_MIN_MARGIN must be a whole percentage from 0 to 99")
# The fair-pay floor that annotators' effective hourly earnings are flagged against (per hour).
QUORUM_FAIR_PAY_FLOOR_PER_HOUR = env_int("QUORUM_FAIR_PAY_FLOOR_PER_HOUR", 1500)
# Idempotency-Key records are kept this long; an older key starts a new operation (IETF draft -07).
QUORUM_IDEMPOTENCY_TTL_HOURS = env_int("QUORUM_IDEMPOTENCY_TTL_HOURS", 24)
# Annotator workspace: the task page warns this many seconds before its lease runs out (at most
# half the lease), with one click to extend it.
QUORUM_LEASE_WARNING_SECONDS = env_int("QUORUM_LEASE_WARNING_SECONDS", 120)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# --- Reliability and abuse limits (issue 13) --------------------------------------------------
# Every message this app publishes is a wake-up naming a committed row, which a periodic relay
# sends again if it is lost (the webhook dispatcher, the export relay, the test-mode and completion
# relays). So publishing retries once at once (a pooled connection that went stale when Redis
# restarted) and then gives up, instead of Celery's default three retries 0.2 s apart: a request
# that queues a wake-up while the broker is down pays one refused connection, not ~0.6 s.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": env_int("QUORUM_WAKEUP_PUBLISH_RETRIES", 1),
    "interval_start": 0,
    "interval_step": 0,
    "interval_max": 0,
}
# Size caps (core/limits.py): a refusal is a 400 too_large naming the field, its size and the cap.
QUORUM_MAX_PROJECT_PARAMS_BYTES = env_int("QUORUM_MAX_PROJECT_PARAMS_BYTES", 256 * 1024)
QUORUM_MAX_TASK_PARAMS_BYTES = env_int("QUORUM_MAX_TASK_PARAMS_BYTES", 256 * 1024)
QUORUM_MAX_METADATA_BYTES = env_int("QUORUM_MAX_METADATA_BYTES", 64 * 1024)
QUORUM_MAX_ANSWER_BYTES = env_int("QUORUM_MAX_ANSWER_BYTES", 256 * 1024)
QUORUM_MAX_TEXT_CHARS = env_int("QUORUM_MAX_TEXT_CHARS", 64 * 1024)  # instruction, instructions
QUORUM_MAX_TAGS = env_int("QUORUM_MAX_TAGS", 100)
QUORUM_MAX_TAG_CHARS = env_int("QUORUM_MAX_TAG_CHARS", 200)
# Project params are copied into every task: the effective params one bulk request may store,
# summed over its tasks. By default what one request body may carry.
QUORUM_MAX_BULK_PARAMS_BYTES = env_int("QUORUM_MAX_BULK_PARAMS_BYTES", DATA_UPLOAD_MAX_MEMORY_SIZE)
# Uploaded images are decoded before they are accepted: the largest image, in pixels.
QUORUM_ATTACHMENT_MAX_PIXELS = env_int("QUORUM_ATTACHMENT_MAX_PIXELS", 50_000_000)
# PostgreSQL unreachable: requests answer 503 with this Retry-After (core/health.py); a connection
# attempt gives up after DB_CONNECT_TIMEOUT seconds instead of the driver's default (none).
QUORUM_DB_RETRY_AFTER_SECONDS = env_int("QUORUM_DB_RETRY_AFTER_SECONDS", 5)
# /readyz answers 503 when PostgreSQL is unreachable; with this also when the broker is (default:
# 200 "degraded", because every web node shares the broker and committed work still answers).
QUORUM_READY_REQUIRES_BROKER = env_bool("QUORUM_READY_REQUIRES_BROKER", False)
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5))
# Export jobs: a short lease renewed by a heartbeat while the file is built, so the relay (every
# QUORUM_EXPORT_RELAY_SECONDS) re-queues the job of a killed worker within about 45 s; attempts'
# temporary folders live under QUORUM_EXPORT_TMP_DIR (default: the system's temporary directory).
QUORUM_EXPORT_LEASE_SECONDS = env_int("QUORUM_EXPORT_LEASE_SECONDS", 30)
QUORUM_EXPORT_HEARTBEAT_SECONDS = env_int("QUORUM_EXPORT_HEARTBEAT_SECONDS", 10)
QUORUM_EXPORT_TMP_DIR = os.environ.get("QUORUM_EXPORT_TMP_DIR", "")

# Sign-in lockout (django-axes, counts in PostgreSQL): after QUORUM_LOGIN_FAILURE_LIMIT failed
# sign-ins for one email from one address, that pair is locked for QUORUM_LOGIN_COOLOFF_MINUTES
# (the right password too); a success resets the count. /login/ and /admin/login/ alike.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("QUORUM_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("QUORUM_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]  # no lock-out of a person by a stranger elsewhere
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"  # the sign-in forms' field (it holds the email) and the credentials key
AXES_CLIENT_IP_CALLABLE = "config.throttling.client_ip"  # the same client address as the API's limits
AXES_LOCKOUT_CALLABLE = "clients.web.auth.locked_out"  # 429, Retry-After, the form with the email kept
AXES_VERBOSE = False
# API rate limits per API key / personal token / signed-in user, and per address when anonymous
# (config/throttling.py): "N/s", "N/min" or "N/hour"; "off" disables. Counted in Redis; when Redis
# is unreachable requests are allowed (fail open) and a warning is logged.
QUORUM_API_RATE = os.environ.get("QUORUM_API_RATE", "1200/min")
QUORUM_API_ANON_RATE = os.environ.get("QUORUM_API_ANON_RATE", "120/min")
QUORUM_THROTTLE_NAMESPACE = os.environ.get("QUORUM_THROTTLE_NAMESPACE", "v1")  # tests use one per test

# Content-Security-Policy on every response (django-csp): scripts only from this site (no inline
# scripts, no javascript: URLs, no eval), nothing may frame the pages, forms post only here. Images,
# video and the LiDAR tool's point clouds come from wherever clients host their attachments (http or
# https), so img-src, media-src and connect-src allow those schemes. Inline style attributes are
# allowed (the pages' progress bars and charts use them). The Redoc page relaxes script-src
# (config/urls.py); Swagger UI is served as split HTML + script, which needs no exception.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", "https:", "http:"],
        "media-src": ["'self'", "blob:", "https:", "http:"],
        "connect-src": ["'self'", "https:", "http:"],
        "font-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# A webhook wake-up dispatched but not consumed within this many seconds (lost in a broker restart,
# with the worker's unacknowledged messages) is dispatched again by the 5-second dispatcher.
QUORUM_WEBHOOK_REDISPATCH_SECONDS = env_int("QUORUM_WEBHOOK_REDISPATCH_SECONDS", 60)
