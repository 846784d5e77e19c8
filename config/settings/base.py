"""Settings shared by every environment. Thin modules beside this one override it."""

from __future__ import annotations

from datetime import timedelta
from importlib.util import find_spec
from pathlib import Path

from config.env import (
    DatabaseLimits,
    EnvError,
    database_from_url,
    env_bool,
    env_int,
    env_list,
    env_str,
)
from config.mail import mailer_from_env

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("PARLEY_VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env_str("SECRET_KEY", "parley-insecure-development-key-do-not-use-in-production-0123456789")
DEBUG = False
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    # With the `daphne` extra installed, `manage.py runserver` serves ASGI; uvicorn is the default server (bin/serve).
    *(["daphne"] if find_spec("daphne") else []),
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_tasks_db",
    "axes",  # login throttle (see the end of this file)
    "parley.core",
    "parley.accounts",
    "parley.rooms",
    "parley.messaging",
    "parley.files",
    "parley.realtime",
    "parley.presence",
    "parley.hooks",
    "parley.jobs",
    "parley.web",
    "ninja",  # the API's interactive docs (/api/v1/docs) served from our own static files
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "parley.web.middleware.DatabaseUnavailableMiddleware",  # last: first to see a view's exception
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into the 429 page
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ],
        },
    },
]

_database_url = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'parley.sqlite3'}")
# PostgreSQL limits per process (docs/deploy.md, "Database connections and outages").
PARLEY_DB_POOL_MAX = env_int("PARLEY_DB_POOL_MAX", 8)  # connections one process holds at most
PARLEY_DB_STATEMENT_TIMEOUT = env_int("PARLEY_DB_STATEMENT_TIMEOUT_MS", 2000) / 1000  # 0: none
# A frame or handshake gives up (server_error / close 1013) once the database has been silent this
# long while it waited; behind a database that keeps answering it waits its turn, up to the cap.
PARLEY_DB_WAIT = env_int("PARLEY_DB_WAIT_MS", 1500) / 1000
PARLEY_DB_QUEUE_MAX = env_int("PARLEY_DB_QUEUE_MAX_MS", 10000) / 1000
PARLEY_DB_RETRY_INTERVAL = 0.5  # after a connection failure, new work fails at once for this long
DATABASES = {
    "default": database_from_url(
        _database_url,
        base_dir=BASE_DIR,
        limits=DatabaseLimits(
            pool_min=env_int("PARLEY_DB_POOL_MIN", 1),
            pool_max=PARLEY_DB_POOL_MAX,
            pool_timeout=env_int("PARLEY_DB_POOL_TIMEOUT_MS", 1000) / 1000,
            connect_timeout=env_int("PARLEY_DB_CONNECT_TIMEOUT", 2),
            statement_timeout_ms=int(PARLEY_DB_STATEMENT_TIMEOUT * 1000),
        ),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("PARLEY_STATIC_ROOT", str(BASE_DIR / "staticfiles")))  # bin/start collects here
# Uploads (avatars) through Django's storage API: FileSystemStorage here unless STORAGES says otherwise.
MEDIA_ROOT = Path(env_str("PARLEY_MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = env_str("PARLEY_MEDIA_URL", "/media/")
# Parley serves MEDIA_URL itself (immutable names, cached for a year); 0 when the proxy serves MEDIA_ROOT.
PARLEY_SERVE_MEDIA = env_bool("PARLEY_SERVE_MEDIA", True)
PARLEY_AVATAR_MAX_BYTES = env_int("PARLEY_AVATAR_MAX_BYTES", 5 * 1024 * 1024)

# Channel layer: in-memory for one process; Redis when REDIS_URL is set (many processes).
REDIS_URL = env_str("REDIS_URL", "")
PARLEY_CHANNEL_LAYER = env_str("PARLEY_CHANNEL_LAYER", "pubsub" if REDIS_URL else "memory")


def _channel_layers(kind: str, redis_url: str) -> dict[str, dict[str, object]]:
    if kind == "memory":
        # The hub's one channel receives every room's events: give it room for bursts of commits.
        return {
            "default": {
                "BACKEND": "parley.realtime.memlayer.LocalChannelLayer",
                "CONFIG": {"channel_capacity": {"hub.*": 100_000}},
            }
        }
    if not redis_url:
        raise RuntimeError(f"PARLEY_CHANNEL_LAYER={kind} needs REDIS_URL")
    backends = {
        "redis": "channels_redis.core.RedisChannelLayer",
        "pubsub": "parley.realtime.pubsublayer.PubSubChannelLayer",  # channels_redis pub/sub, groups joined in bulk
    }
    if kind not in backends:
        raise RuntimeError(f"PARLEY_CHANNEL_LAYER must be memory, redis or pubsub, not {kind!r}")
    config: dict[str, object] = {"hosts": [redis_url]}
    if kind == "redis":
        # channels_redis prunes a group member this old whatever its activity: the hub re-adds its
        # groups every 10 minutes, well inside it (parley/realtime/subscription.py).
        config.update({"capacity": 1000, "expiry": 60, "group_expiry": 3600})
        # The layer's receive blocks in BZPOPMIN for 5 s; redis-py >= 8 gives every read a 5 s
        # socket timeout by default, so an idle hub's read failed with TimeoutError every few
        # seconds. A read timeout above the 5 s block keeps dead-connection detection.
        config["hosts"] = [{"address": redis_url, "socket_timeout": 15}]
    return {"default": {"BACKEND": backends[kind], "CONFIG": config}}


CHANNEL_LAYERS = _channel_layers(PARLEY_CHANNEL_LAYER, REDIS_URL)

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}  # `manage.py db_worker` runs them

# Email (docs/deploy.md, "Email"): printed by the worker unless EMAIL_URL or EMAIL_HOST says
# otherwise. Mail is always sent by a background task, never inside a request.
MAILERS = {"default": mailer_from_env()}
DEFAULT_FROM_EMAIL = env_str("PARLEY_EMAIL_FROM", "Parley <parley@localhost>")
# The site's address for links in mail sent without a request (the digest); a reset link uses the
# address the person asked from.
PARLEY_SITE_URL = env_str("PARLEY_SITE_URL", "http://localhost:8000").rstrip("/")
PASSWORD_RESET_TIMEOUT = env_int("PARLEY_PASSWORD_RESET_MINUTES", 60) * 60  # a reset link's life
PARLEY_PASSWORD_RESETS_PER_HOUR = env_int("PARLEY_PASSWORD_RESETS_PER_HOUR", 5)  # per client address and per email
# Mentions and DMs still unread this long are mailed, at most one mail per person per this long.
PARLEY_DIGEST_MINUTES = env_int("PARLEY_DIGEST_MINUTES", 15)
# Scheduled cleanup (parley.jobs): every this many minutes; guests idle this many days; unsent uploads after hours.
PARLEY_CLEANUP_MINUTES = env_int("PARLEY_CLEANUP_MINUTES", 60)
PARLEY_CLEANUP_GUEST_DAYS = env_int("PARLEY_CLEANUP_GUEST_DAYS", 30)
PARLEY_CLEANUP_UPLOAD_HOURS = env_int("PARLEY_CLEANUP_UPLOAD_HOURS", 24)
if PARLEY_DIGEST_MINUTES < 1 or PARLEY_CLEANUP_MINUTES < 1 or PARLEY_CLEANUP_GUEST_DAYS < 1:
    raise EnvError("PARLEY_DIGEST_MINUTES, PARLEY_CLEANUP_MINUTES and PARLEY_CLEANUP_GUEST_DAYS must be at least 1")
if PARLEY_CLEANUP_UPLOAD_HOURS < 1:
    raise EnvError("PARLEY_CLEANUP_UPLOAD_HOURS must be at least 1")

# Outgoing webhooks (parley.hooks.outgoing): deliveries are tasks of the worker. By default they
# go to public addresses only (checked after DNS resolution, redirects refused); the hosts,
# addresses and networks listed here are allowed even when private or loopback. With
# PARLEY_WEBHOOK_PUBLIC=0, only the listed ones are allowed at all.
PARLEY_WEBHOOK_ALLOWED_HOSTS = env_list("PARLEY_WEBHOOK_ALLOWED_HOSTS", [])
PARLEY_WEBHOOK_PUBLIC = env_bool("PARLEY_WEBHOOK_PUBLIC", True)
PARLEY_WEBHOOK_TIMEOUT = float(env_str("PARLEY_WEBHOOK_TIMEOUT", "10"))  # seconds, connect and read each
PARLEY_WEBHOOK_MAX_ATTEMPTS = env_int("PARLEY_WEBHOOK_MAX_ATTEMPTS", 8)  # then the delivery is dead
PARLEY_WEBHOOK_BACKOFF = float(
    env_str("PARLEY_WEBHOOK_BACKOFF", "10")
)  # first retry after about this many seconds; doubles
PARLEY_WEBHOOK_BACKOFF_MAX = float(env_str("PARLEY_WEBHOOK_BACKOFF_MAX", "3600"))
PARLEY_WEBHOOK_CONCURRENCY = env_int("PARLEY_WEBHOOK_CONCURRENCY", 16)  # requests in flight per worker
PARLEY_WEBHOOK_BATCH = env_int("PARLEY_WEBHOOK_BATCH", 200)  # deliveries a worker claims at once
# A claim a dead worker left is taken again after this: above ceil(batch / concurrency) x 2 x timeout
PARLEY_WEBHOOK_LEASE = float(env_str("PARLEY_WEBHOOK_LEASE", "300"))
PARLEY_WEBHOOK_SUBSCRIPTIONS_MAX = env_int("PARLEY_WEBHOOK_SUBSCRIPTIONS_MAX", 20)  # per user
PARLEY_WEBHOOK_ROOMS_CACHE = float(env_str("PARLEY_WEBHOOK_ROOMS_CACHE", "2"))  # seconds a process trusts its list

# Files and images in messages (parley.files). Never under MEDIA_ROOT (served to anyone): a
# private room's files are served by Parley's checked view only (/files/<id>/<name>).
PARLEY_ATTACHMENTS_STORAGE = env_str("PARLEY_ATTACHMENTS_STORAGE", "filesystem")
PARLEY_ATTACHMENTS_DIR = Path(env_str("PARLEY_ATTACHMENTS_DIR", str(VAR_DIR / "attachments")))
PARLEY_UPLOAD_MAX_BYTES = env_int("PARLEY_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)  # per file; then 413
PARLEY_UPLOADS_PER_MINUTE = env_int("PARLEY_UPLOADS_PER_MINUTE", 30)  # per user and process (burst as many)


def _attachments_storage(kind: str) -> dict[str, object]:
    if kind == "filesystem":
        if PARLEY_ATTACHMENTS_DIR.resolve().is_relative_to(MEDIA_ROOT.resolve()):
            raise EnvError(f"PARLEY_ATTACHMENTS_DIR={PARLEY_ATTACHMENTS_DIR} is inside MEDIA_ROOT (anyone may read it)")
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(PARLEY_ATTACHMENTS_DIR), "base_url": "/files/"},
        }
    if kind != "s3":
        raise EnvError(f"PARLEY_ATTACHMENTS_STORAGE={kind!r}: use filesystem or s3")
    if not find_spec("storages") or not find_spec("boto3"):
        raise EnvError("PARLEY_ATTACHMENTS_STORAGE=s3 needs django-storages[s3]: pip install 'django-storages[s3]'")
    bucket = env_str("PARLEY_S3_BUCKET", "")
    if not bucket:
        raise EnvError("PARLEY_ATTACHMENTS_STORAGE=s3 needs PARLEY_S3_BUCKET")
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": env_str("PARLEY_S3_ENDPOINT_URL", "") or None,  # MinIO, R2, Ceph, ...
            "region_name": env_str("PARLEY_S3_REGION", "") or None,
            # empty: boto3's own chain (environment, instance role)
            "access_key": env_str("PARLEY_S3_ACCESS_KEY_ID", "") or None,
            "secret_key": env_str("PARLEY_S3_SECRET_ACCESS_KEY", "") or None,
            "location": env_str("PARLEY_S3_PREFIX", "attachments"),
            "default_acl": "private",
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }


STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "attachments": _attachments_storage(PARLEY_ATTACHMENTS_STORAGE),
}

# Parley's own knobs; every one documented in docs/protocol.md or docs/deploy.md.
PARLEY_GUESTS = env_bool("PARLEY_GUESTS", False)
PARLEY_MAX_FRAME_BYTES = env_int("PARLEY_MAX_FRAME_BYTES", 64 * 1024)
PARLEY_MAX_BODY_CHARS = 4000
PARLEY_RESUME_LIMIT = 500
PARLEY_HISTORY_LIMIT = 100
PARLEY_PAGE_HISTORY = 50
PARLEY_RATE_PER_SECOND = env_int("PARLEY_RATE_PER_SECOND", 10)
PARLEY_RATE_BURST = env_int("PARLEY_RATE_BURST", 30)
PARLEY_RATE_SHARED = env_bool("PARLEY_RATE_SHARED", True)  # with REDIS_URL: one bucket across processes
# sockets on /ws/ one user may hold in one process; the next is closed with 4429
PARLEY_GUESTS_PER_MINUTE = env_int("PARLEY_GUESTS_PER_MINUTE", 20)  # per client address: tutorial sockets
PARLEY_MAX_CONNECTIONS_PER_USER = env_int("PARLEY_MAX_CONNECTIONS_PER_USER", 50)
# subscribe and history frames per connection (they read the database): burst, then per second
PARLEY_READS_BURST = env_int("PARLEY_READS_BURST", 200)
PARLEY_READS_PER_SECOND = env_int("PARLEY_READS_PER_SECOND", 20)
# HTTP API reads (GET /api/v1/...) per user, across processes with Redis: burst, then per second
PARLEY_API_READS_BURST = env_int("PARLEY_API_READS_BURST", 100)
PARLEY_API_READS_PER_SECOND = env_int("PARLEY_API_READS_PER_SECOND", 20)
# every this many seconds, sockets whose user, token or session was revoked elsewhere are closed
PARLEY_REVALIDATE_SECONDS = float(env_int("PARLEY_REVALIDATE_SECONDS", 30))
PARLEY_REFUSAL_LOGS_PER_SECOND = env_int("PARLEY_REFUSAL_LOGS_PER_SECOND", 20)  # "frame refused" log lines
# WebSocket origins accepted besides the site itself (scheme://host[:port], exact): see realtime/security.py
PARLEY_ALLOWED_ORIGINS = env_list("PARLEY_ALLOWED_ORIGINS", [])
PARLEY_PUBLISH_TIMEOUT = 1.0
PARLEY_REPAIR_INTERVAL = float(env_int("PARLEY_REPAIR_INTERVAL_MS", 1000)) / 1000
PARLEY_PRESENCE_BACKEND = env_str("PARLEY_PRESENCE_BACKEND", "redis" if REDIS_URL else "memory")
PARLEY_PRESENCE_TTL = float(env_int("PARLEY_PRESENCE_TTL", 30))  # seconds without a heartbeat: offline
PARLEY_PRESENCE_HEARTBEAT = float(env_int("PARLEY_PRESENCE_HEARTBEAT", 10))
# bin/serve's uvicorn pings each WebSocket every interval (0: never); no pong within the timeout
# closes it, so a vanished client leaves presence within interval + timeout (20 s by default)
PARLEY_WS_PING_INTERVAL = float(env_int("PARLEY_WS_PING_INTERVAL", 10))
PARLEY_WS_PING_TIMEOUT = float(env_int("PARLEY_WS_PING_TIMEOUT", 10))
if PARLEY_WS_PING_INTERVAL < 0 or PARLEY_WS_PING_TIMEOUT <= 0:
    raise EnvError(
        "PARLEY_WS_PING_INTERVAL must be >= 0 and PARLEY_WS_PING_TIMEOUT > 0 "
        f"(got {PARLEY_WS_PING_INTERVAL:g}, {PARLEY_WS_PING_TIMEOUT:g})"
    )
# joins and leaves of a room within this window go out as one presence frame
PARLEY_PRESENCE_COALESCE = float(env_int("PARLEY_PRESENCE_COALESCE_MS", 250)) / 1000
PARLEY_TYPING_INTERVAL = 2.0  # at most one typing frame per user per room per interval
PARLEY_DRAIN_SECONDS = float(env_int("PARLEY_DRAIN_MS", 2000)) / 1000  # SIGTERM: 1012 in batches
PARLEY_OUTBOX_BYTES = env_int("PARLEY_OUTBOX_BYTES", 1024 * 1024)  # then close 4408
# Write ready frames to the socket where the server offers it (parley.server.uvicorn_ws); 0: ASGI only
PARLEY_WIRE_WRITES = env_bool("PARLEY_WIRE_WRITES", True)
# The API's message post and reads served without Django's thread per request (parley.api.fastpath).
PARLEY_API_FAST_PATH = env_bool("PARLEY_API_FAST_PATH", True)
# How long an HTTP request may be signed in with a bearer token looked up earlier (parley.accounts.tokencache)
PARLEY_TOKEN_CACHE_MS = env_int("PARLEY_TOKEN_CACHE_MS", 1000)
# Hostile connections, enforced by bin/serve's uvicorn protocol (parley.server.uvicorn_http)
PARLEY_REQUEST_TIMEOUT = float(env_int("PARLEY_REQUEST_TIMEOUT_MS", 10_000)) / 1000  # then 408/close
PARLEY_MAX_HEADER_BYTES = env_int("PARLEY_MAX_HEADER_BYTES", 16 * 1024)  # then 431
PARLEY_MAX_CONNECTIONS = env_int("PARLEY_MAX_CONNECTIONS", 0)  # per process; 0: open-file limit less a reserve
if PARLEY_REQUEST_TIMEOUT <= 0 or PARLEY_MAX_HEADER_BYTES < 1024 or PARLEY_MAX_CONNECTIONS < 0:
    raise EnvError(
        "PARLEY_REQUEST_TIMEOUT_MS must be > 0, PARLEY_MAX_HEADER_BYTES >= 1024 and PARLEY_MAX_CONNECTIONS >= 0 "
        f"(got {PARLEY_REQUEST_TIMEOUT * 1000:g}, {PARLEY_MAX_HEADER_BYTES}, {PARLEY_MAX_CONNECTIONS})"
    )

SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
}
if MEDIA_URL.startswith(("https://", "http://")):  # uploads served from another host: pictures may come from it
    SECURE_CSP["img-src"].append("/".join(MEDIA_URL.split("/", 3)[:3]))

# /metrics: client addresses or CIDRs allowed ("*": everyone), or the holder of the bearer token
PARLEY_METRICS_ALLOW = env_list("PARLEY_METRICS_ALLOW", ["*"])
PARLEY_METRICS_TOKEN = env_str("PARLEY_METRICS_TOKEN", "")

# plain, or json: one object per line for Django, Parley and uvicorn (parley.core.logs)
PARLEY_LOG_FORMAT = env_str("PARLEY_LOG_FORMAT", "plain")
if PARLEY_LOG_FORMAT not in ("plain", "json"):
    raise EnvError(f"PARLEY_LOG_FORMAT={PARLEY_LOG_FORMAT!r}: use plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "parley.core.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": PARLEY_LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "parley": {"handlers": ["console"], "level": env_str("PARLEY_LOG_LEVEL", "INFO"), "propagate": False},
        # uvicorn's own loggers keep uvicorn's format unless every line must be JSON
        **{
            name: {"handlers": ["console"], "level": "INFO", "propagate": False}
            for name in (("uvicorn", "uvicorn.error", "uvicorn.access") if PARLEY_LOG_FORMAT == "json" else ())
        },
    },
}

# Login throttle (django-axes, failures kept in the database so every process sees them): after
# PARLEY_LOGIN_FAILURES failed logins for one username, or from one client address, further
# attempts for it are refused (HTTP 429, the locked-out page) for PARLEY_LOGIN_COOLOFF_MINUTES;
# each failure during the lock starts the wait again. A successful login clears the count.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("PARLEY_LOGIN_FAILURES", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("PARLEY_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # failures only: no row per successful login
AXES_LOCKOUT_CALLABLE = "parley.accounts.throttle.locked_out"  # the 429 page, with Retry-After
# The address the ASGI server resolved (it applies X-Forwarded-For only from PROXY_HEADERS);
# never a header a client can set.
AXES_CLIENT_IP_CALLABLE = "parley.accounts.throttle.client_address"
# New accounts per client address and hour (per process): bounds signup spam and how fast
# anyone can probe which usernames are taken.
PARLEY_SIGNUPS_PER_HOUR = env_int("PARLEY_SIGNUPS_PER_HOUR", 10)
# New rooms per user and per client address and hour (per process): visiting /rooms/<name>/ or
# a tutorial route with a new name creates the room.
PARLEY_ROOMS_PER_HOUR = env_int("PARLEY_ROOMS_PER_HOUR", 30)
