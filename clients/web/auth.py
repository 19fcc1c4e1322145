"""Sign in and out with Django's own auth views; people sign in with their email (``User.USERNAME_FIELD``)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views


class SignInView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True


class SignOutView(auth_views.LogoutView):
    next_page = "login"
