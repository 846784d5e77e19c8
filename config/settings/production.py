"""Production: every secret from the environment, HTTPS everywhere, guests off unless asked for.

Required: SECRET_KEY (50+ random characters), ALLOWED_HOSTS, DATABASE_URL (postgres://...).
Usually: REDIS_URL for more than one process. See docs/deploy.md.
"""

from config.env import env_bool, env_int, env_list, env_str

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = env_str("SECRET_KEY")  # no default: refuse to start without one
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [f"https://{h}" for h in ALLOWED_HOSTS])
PARLEY_GUESTS = env_bool("PARLEY_GUESTS", False)
PARLEY_METRICS_ALLOW = env_list("PARLEY_METRICS_ALLOW", ["127.0.0.0/8", "::1"])  # loopback only

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
STORAGES = {
    **STORAGES,  # noqa: F405  (the attachments' storage from the base settings)
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
