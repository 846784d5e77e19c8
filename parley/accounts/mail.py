"""Mail to people: what is sent and how it is queued. Every mail leaves from a background task
(parley.accounts.tasks, run by the worker), never from a request: a slow or failing mail server
costs a request nothing, and a failed send is a failed task to see and retry.

A password reset's task gets the address the person typed, not a user: the request does the
same work whether or not an account has that address (no way to tell them apart by the answer
or its timing), and the task finds the accounts and makes each its link with a fresh token, so
no token is ever stored in the task table.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm

log = logging.getLogger("parley.mail")

RESET_SUBJECT = "registration/reset_subject.txt"
RESET_BODY = "registration/reset_email.txt"


def password_reset_enqueue(*, email: str, domain: str, use_https: bool) -> None:
    """Queue the reset mail for ``email`` (whatever it names: maybe nobody)."""
    from parley.accounts.tasks import password_reset_mail  # the task module imports this one

    password_reset_mail.enqueue(email=email, domain=domain, use_https=use_https)


def password_reset_send(*, email: str, domain: str, use_https: bool) -> int:
    """Mail a reset link to each active account with a usable password and this address
    (Django's rules: ``PasswordResetForm.get_users``). Returns how many were sent."""
    form = PasswordResetForm({"email": email})
    if not form.is_valid():
        return 0
    users = list(form.get_users(email))
    if users:
        form.save(
            domain_override=domain,
            use_https=use_https,
            subject_template_name=RESET_SUBJECT,
            email_template_name=RESET_BODY,
            from_email=settings.DEFAULT_FROM_EMAIL,
            extra_email_context={"timeout_minutes": str(settings.PASSWORD_RESET_TIMEOUT // 60)},
        )
    log.info("password reset mail sent=%d", len(users))
    return len(users)
