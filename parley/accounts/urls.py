from django.contrib.auth import views as auth_views
from django.urls import path

from parley.accounts import reset, views

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("settings/", views.account_settings, name="settings"),
    path("password/reset/", reset.ResetRequestView.as_view(), name="password_reset"),
    path("password/reset/sent/", reset.ResetSentView.as_view(), name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", reset.ResetConfirmView.as_view(), name="password_reset_confirm"),
    path("password/reset/done/", reset.ResetCompleteView.as_view(), name="password_reset_complete"),
]
