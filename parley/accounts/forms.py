from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import PasswordChangeForm, UserCreationForm

from parley.accounts.models import User

DISPLAY_NAME_HELP = "What people see beside your messages. Leave it empty to show your username."
EMAIL_HELP = "Only for resetting your password and for mail about messages you missed. Never shown to others."


def email_clean(value: object, *, user: User | None = None) -> str:
    """An optional address, trimmed; unique whatever its case (another account's is refused)."""
    email = str(value or "").strip()
    if email:
        taken = User.objects.filter(email__iexact=email)
        if user is not None:
            taken = taken.exclude(pk=user.pk)
        if taken.exists():
            raise forms.ValidationError("Another account uses this email address.", code="email_taken")
    return email


class SignupForm(UserCreationForm[User]):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "display_name", "email")
        labels = {"display_name": "Display name (optional)", "email": "Email (optional)"}
        help_texts = {"display_name": DISPLAY_NAME_HELP, "email": EMAIL_HELP}

    def clean_display_name(self) -> str:
        return str(self.cleaned_data.get("display_name") or "").strip()

    def clean_email(self) -> str:
        return email_clean(self.cleaned_data.get("email"))


class ProfileForm(forms.Form):
    display_name = forms.CharField(max_length=64, required=False, label="Display name", help_text=DISPLAY_NAME_HELP)


class EmailForm(forms.Form):
    email = forms.EmailField(required=False, label="Email", help_text=EMAIL_HELP)
    email_digest = forms.BooleanField(required=False, label="Mail me mentions and direct messages I have not read")

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        minutes = settings.PARLEY_DIGEST_MINUTES
        help_text = (
            f"Sent when they are still unread after {minutes} minutes; at most one mail every {minutes} minutes."
        )
        if not user.email:  # ticked by default: say why nothing comes
            help_text += " Nothing is sent until you add an email address above."
        self.fields["email_digest"].help_text = help_text

    def clean_email(self) -> str:
        return email_clean(self.cleaned_data.get("email"), user=self.user)


class AvatarForm(forms.Form):
    """The file is checked by decoding it (parley.accounts.avatars), not by its name or type."""

    avatar = forms.FileField(label="Picture", help_text="")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = settings.PARLEY_AVATAR_MAX_BYTES / (1024 * 1024)
        self.fields["avatar"].help_text = f"PNG, JPEG, WebP or GIF, up to {limit:g} MB. Cropped to a square."
        self.fields["avatar"].widget.attrs["accept"] = "image/png,image/jpeg,image/webp,image/gif"


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=64, required=False, label="Token name", help_text="What the token is for, e.g. the bot's name."
    )


class PasswordForm(PasswordChangeForm):
    """Django's, without the autofocus on the old password: on the settings page it would scroll
    every visit past the profile to the password section."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["old_password"].widget.attrs.pop("autofocus", None)
