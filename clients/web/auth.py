"""Sign in and out with Django's own auth views; people sign in with their email (``User.USERNAME_FIELD``).

Brute force: django-axes counts failed sign-ins (here and at ``/admin/login/``) per email and client
address in PostgreSQL; after ``AXES_FAILURE_LIMIT`` failures that pair is locked out for
``AXES_COOLOFF_TIME`` (the right password too), and ``locked_out`` answers 429 with ``Retry-After``:
the sign-in form again, with the email kept and the reason shown (the admin gets the error page).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.shortcuts import render
from django.urls import reverse_lazy

from clients.models import User
from clients.web.errors import error_page


class SignInView(auth_views.LoginView):
    """Links to /signup/ only while self-service sign-up is on (``QUORUM_SIGNUP_ENABLED``)."""

    template_name = "web/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "signup_enabled": settings.QUORUM_SIGNUP_ENABLED}


class SignOutView(auth_views.LogoutView):
    next_page = "login"


def locked_out(request, original_response=None, credentials=None):
    """django-axes' lockout response (``AXES_LOCKOUT_CALLABLE``)."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    message = (
        f"Too many failed sign-ins for this account from your address. Try again in {max(1, seconds // 60)} "
        "minutes, or ask an administrator to unlock it."
    )
    if request.path.startswith("/admin/"):
        response = error_page(
            request, status=429, title="Too many sign-in attempts", code="login_locked", message=message
        )
    else:
        form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")[:254]})
        context = {
            "form": form,
            "lockout": message,
            "next": request.POST.get("next", ""),
            "signup_enabled": settings.QUORUM_SIGNUP_ENABLED,
        }
        response = render(request, "web/login.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


# --- password reset ---------------------------------------------------------------------------------
# Django's own views and tokens (``default_token_generator``: the token is bound to the password hash
# and last sign-in, so a link works once; ``PASSWORD_RESET_TIMEOUT`` bounds it). An unknown address
# gets the same "check your e-mail" page as a known one.


class PortalPasswordResetForm(PasswordResetForm):
    def get_users(self, email):
        """Active people with this e-mail, including those who never set a password (created by
        ``create_client --owner-email`` or an invitation): the reset link is how they set one."""
        return User.objects.filter(email__iexact=(email or "").strip(), is_active=True)


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PortalPasswordResetForm
    template_name = "web/password_reset_form.html"
    email_template_name = "web/password_reset_email.txt"
    subject_template_name = "web/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "web/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "web/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "web/password_reset_complete.html"
