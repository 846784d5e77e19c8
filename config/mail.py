"""Django's mailer from the environment (docs/deploy.md, "Email")."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from config.env import EnvError, env_bool, env_int, env_str

_EMAIL_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "smtps": "django.core.mail.backends.smtp.EmailBackend",
    "smtp+tls": "django.core.mail.backends.smtp.EmailBackend",
}


def mailer_from_env() -> dict[str, Any]:
    """The default mailer (Django's ``MAILERS["default"]``: BACKEND and OPTIONS) from
    ``EMAIL_URL`` or the separate ``EMAIL_HOST``... variables.

    ``EMAIL_URL``: ``console:`` (the default: mail is printed by the worker), ``smtp://user:pass@host:25``,
    ``smtp+tls://...:587`` (STARTTLS), ``smtps://...:465`` (TLS from the start), ``file:///dir``
    (one file per message, for tests and staging), ``locmem:`` or ``dummy:``. Without it, a set
    ``EMAIL_HOST`` means SMTP with ``EMAIL_PORT``, ``EMAIL_HOST_USER``, ``EMAIL_HOST_PASSWORD``,
    ``EMAIL_USE_TLS`` and ``EMAIL_USE_SSL``. ``EMAIL_TIMEOUT`` (seconds, 10) bounds an SMTP exchange.
    """
    url = env_str("EMAIL_URL", "")
    timeout = env_int("EMAIL_TIMEOUT", 10)
    if not url:
        host = env_str("EMAIL_HOST", "")
        if not host:
            return {"BACKEND": _EMAIL_BACKENDS["console"]}
        tls, ssl = env_bool("EMAIL_USE_TLS", False), env_bool("EMAIL_USE_SSL", False)
        if tls and ssl:
            raise EnvError("EMAIL_USE_TLS and EMAIL_USE_SSL exclude each other (STARTTLS or TLS from the start)")
        options = {
            "host": host,
            "port": env_int("EMAIL_PORT", 465 if ssl else 587 if tls else 25),
            "username": env_str("EMAIL_HOST_USER", ""),
            "password": env_str("EMAIL_HOST_PASSWORD", ""),
            "use_tls": tls,
            "use_ssl": ssl,
            "timeout": timeout,
        }
        return {"BACKEND": _EMAIL_BACKENDS["smtp"], "OPTIONS": options}
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _EMAIL_BACKENDS:
        raise EnvError(f"EMAIL_URL scheme {scheme!r}: use one of {', '.join(sorted(_EMAIL_BACKENDS))}")
    mailer: dict[str, Any] = {"BACKEND": _EMAIL_BACKENDS[scheme]}
    if scheme == "file":
        if not parts.path:
            raise EnvError("EMAIL_URL=file:///<directory> needs a directory")
        mailer["OPTIONS"] = {"file_path": unquote(parts.path)}
    elif scheme.startswith("smtp"):
        if not parts.hostname:
            raise EnvError("EMAIL_URL=smtp://... needs a host")
        ssl = scheme == "smtps"
        mailer["OPTIONS"] = {
            "host": parts.hostname,
            "port": parts.port or (465 if ssl else 587 if scheme == "smtp+tls" else 25),
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_tls": scheme == "smtp+tls",
            "use_ssl": ssl,
            "timeout": timeout,
        }
    return mailer
