from __future__ import annotations

from django.contrib.auth.forms import UserCreationForm

from parley.accounts.models import User


class SignupForm(UserCreationForm[User]):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username",)
