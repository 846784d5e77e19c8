"""Background tasks of parley.accounts (Django's tasks framework, run by the worker): mail."""

from __future__ import annotations

from django.tasks import task

from parley.accounts.digest import digest_run
from parley.accounts.mail import password_reset_send


@task()
def password_reset_mail(*, email: str, domain: str, use_https: bool) -> int:
    return password_reset_send(email=email, domain=domain, use_https=use_https)


@task()
def digest_mail(user_id: int) -> int:
    """The digest of one person's unread mentions and DMs (parley.accounts.digest)."""
    return digest_run(user_id=user_id)
