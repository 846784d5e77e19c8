"""Settings for pytest. The database comes from DATABASE_URL (the Makefile points it at PostgreSQL)."""

from config.env import env_bool

from .base import *  # noqa: F403

PARLEY_GUESTS = env_bool("PARLEY_GUESTS", True)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
WHITENOISE_USE_FINDERS = True
# Generous limits so tests that send quickly are not throttled; the rate-limit test lowers them.
PARLEY_RATE_PER_SECOND = 1000
PARLEY_RATE_BURST = 1000
PARLEY_API_READS_PER_SECOND = 1000
PARLEY_API_READS_BURST = 1000
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}  # mail.outbox
# Worker threads must not keep connections open past a test (PostgreSQL refuses to drop the
# test database while any session uses it).
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
PARLEY_ROOMS_PER_HOUR = 100_000  # tests create many rooms from one address; the limit test lowers it
# No pool in-process: pytest-django's per-test transactions live on one connection per thread.
# Live servers (tests/live) run the pool as production does.
DATABASES["default"].get("OPTIONS", {}).pop("pool", None)  # noqa: F405
# Creating and dropping the test database can take seconds on a busy machine: no statement
# timeout in-process (tests of the timeout set their own). Live servers run with the defaults.
PARLEY_DB_STATEMENT_TIMEOUT = 0.0
DATABASES["default"].get("OPTIONS", {}).pop("options", None)  # noqa: F405
# Outgoing webhooks go to the tests' own receivers on loopback (only 127.0.0.1, so the refusal
# of other loopback and private addresses is still tested); retries come quickly.
PARLEY_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
PARLEY_WEBHOOK_BACKOFF = 0.05
PARLEY_WEBHOOK_TIMEOUT = 5.0
# Subscriptions in tests are made in-process, which resets the list at once; a list that never
# expires keeps a test's query count from changing when a slow step passes the usual 2 s.
PARLEY_WEBHOOK_ROOMS_CACHE = 3600.0
