"""Client portal pages of the clients app: choosing the client to act for, API keys (created and
shown once, revoked) and webhook endpoints with their delivery log. Keys and webhooks need the
``admin`` role (owners and admins), as in the API."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, password_validation
from django.contrib.auth.decorators import login_required
from django.core.mail import send_mail
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from clients import selectors, services
from clients.models import ApiKey, Membership, User
from clients.web.access import ADMIN, READ, SESSION_CLIENT_KEY, TEAM, client_page, page_membership
from clients.web.errors import form_error, refused
from core import events
from core.errors import DomainError, NotFound


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses the key, e.g. “ingest pipeline”.")
    mode = forms.ChoiceField(
        choices=ApiKey.Mode.choices,
        initial=ApiKey.Mode.LIVE,
        help_text="Test keys create test tasks that are never served to annotators nor billed.",
    )


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(max_length=2000, label="URL", help_text="A public https address that accepts POST.")
    events = forms.MultipleChoiceField(
        choices=[(name, f"{name} — {about}") for name, about in events.WEBHOOK_EVENTS.items()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
        error_messages={
            "invalid_choice": "%(value)s is not an event you can subscribe to; tick events from the list."
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def choose_client(request):
    memberships = list(selectors.membership_list_for_user(user=request.user))
    if not memberships:
        raise NotFound("You are not a member of any client.")
    next_url = request.POST.get("next") or request.GET.get("next") or "/portal/"
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}
    ) or not next_url.startswith("/portal/"):
        next_url = "/portal/"
    if request.method == "POST":
        chosen = next((m for m in memberships if m.client.slug == request.POST.get("client")), None)
        if chosen is None:
            messages.error(request, "Choose one of your clients.")
        else:
            request.session[SESSION_CLIENT_KEY] = chosen.client.slug
            return redirect(next_url)
    return render(request, "portal/choose_client.html", {"memberships": memberships, "next": next_url})


@require_http_methods(["GET", "POST"])
@client_page(ADMIN)
def api_keys(request, client):
    form = ApiKeyForm(request.POST or None)
    issued = None
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.api_key_create(
                client=client,
                name=form.cleaned_data["name"],
                mode=form.cleaned_data["mode"],
                created_by=request.user,
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            form = ApiKeyForm()
    return render(
        request,
        "portal/api_keys.html",
        {
            "form": form,
            "issued": issued,
            "keys": selectors.api_key_list_for_client(client=client),
        },
        status=400 if request.method == "POST" and issued is None else 200,
    )


@require_POST
@client_page(ADMIN)
def api_key_revoke(request, client, key_id):
    try:
        api_key = services.api_key_revoke(client=client, api_key_id=key_id, actor=request.user)
    except DomainError as exc:
        refused(request, exc)
    else:
        messages.success(
            request, f"Key {api_key.name} ({api_key.prefix}) revoked: it is refused from now on."
        )
    return redirect("portal-api-keys")


@require_http_methods(["GET", "POST"])
@client_page(ADMIN)
def webhooks(request, client):
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.webhook_endpoint_create(
                client=client,
                url=form.cleaned_data["url"],
                events_wanted=form.cleaned_data["events"],
                actor=request.user,
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(
                request, f"Endpoint {endpoint.url} added. Verify our signatures with its secret."
            )
            return redirect("portal-webhooks")
    endpoint_id = request.GET.get("endpoint") or None
    endpoints = list(selectors.webhook_endpoint_list_for_client(client=client))
    if endpoint_id is not None and not any(str(e.id) == endpoint_id for e in endpoints):
        raise NotFound("Webhook endpoint not found.")
    return render(
        request,
        "portal/webhooks.html",
        {
            "form": form,
            "endpoints": endpoints,
            "endpoint_id": endpoint_id,
            "deliveries": selectors.delivery_log_for_client(client=client, endpoint_id=endpoint_id),
        },
        status=400 if request.method == "POST" else 200,  # a POST that succeeded has redirected
    )


@require_POST
@client_page(ADMIN)
def webhook_toggle(request, client, endpoint_id):
    enable = request.POST.get("enabled") == "true"
    try:
        endpoint = services.webhook_endpoint_set_enabled(
            client=client, endpoint_id=endpoint_id, enabled=enable, actor=request.user
        )
    except DomainError as exc:
        refused(request, exc)
    else:
        messages.success(request, f"Endpoint {endpoint.url} {'enabled' if enable else 'disabled'}.")
    return redirect("portal-webhooks")


# --- team ---------------------------------------------------------------------------------------------


class InvitationForm(forms.Form):
    email = forms.CharField(max_length=254, label="Email")
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MEMBER)


@require_http_methods(["GET", "POST"])
@client_page(READ)
def team(request, client):
    """Members and pending invitations; owners invite (POST), change roles and remove members."""
    form = InvitationForm(request.POST or None)
    if request.method == "POST":
        page_membership(request, TEAM)
        if form.is_valid():
            try:
                issued = services.invitation_create(
                    client=client,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    invited_by=request.user,
                )
            except DomainError as exc:
                form_error(form, exc)
            else:
                _mail_invitation(request, issued)
                return redirect("portal-team")
    return render(
        request,
        "portal/team.html",
        {
            "form": form,
            "members": selectors.membership_list_for_client(client=client),
            "invitations": selectors.invitation_pending_for_client(client=client),
            "can_manage": request.web_membership.can("team"),
            "roles": Membership.Role.choices,
        },
        status=400 if request.method == "POST" else 200,  # a POST that succeeded has redirected
    )


@require_POST
@client_page(TEAM)
def team_role(request, client, membership_id):
    try:
        membership = services.membership_role_change(
            client=client, membership_id=membership_id, role=request.POST.get("role", ""), actor=request.user
        )
    except DomainError as exc:
        refused(request, exc)
    else:
        messages.success(request, f"{membership.user.email} is now {membership.role}.")
    return redirect("portal-team")


@require_POST
@client_page(TEAM)
def team_remove(request, client, membership_id):
    try:
        membership = services.membership_remove(
            client=client, membership_id=membership_id, actor=request.user
        )
    except DomainError as exc:
        refused(request, exc)
    else:
        messages.success(request, f"{membership.user.email} removed from {client.name}.")
    return redirect("portal-team")


def _mail_invitation(request, issued) -> None:
    url = request.build_absolute_uri(reverse("invitation-accept", args=[issued.token]))
    try:
        services.invitation_send(invitation=issued.obj, accept_url=url)
    except Exception:  # noqa: BLE001 - the invitation stands; say the mail failed
        messages.error(request, f"Invitation saved, but the e-mail to {issued.obj.email} failed.")
    else:
        messages.success(request, f"Invitation sent to {issued.obj.email} ({issued.obj.role}).")


@require_POST
@client_page(TEAM)
def invitation_revoke(request, client, invitation_id):
    try:
        invitation = services.invitation_revoke(
            client=client, invitation_id=invitation_id, actor=request.user
        )
    except DomainError as exc:
        refused(request, exc)
    else:
        messages.success(request, f"Invitation of {invitation.email} cancelled: its link no longer works.")
    return redirect("portal-team")


@require_POST
@client_page(TEAM)
def invitation_resend(request, client, invitation_id):
    """A new link by e-mail; the one sent before stops working."""
    try:
        issued = services.invitation_resend(client=client, invitation_id=invitation_id, actor=request.user)
    except DomainError as exc:
        refused(request, exc)
    else:
        _mail_invitation(request, issued)
    return redirect("portal-team")


class AcceptForm(forms.Form):
    new_password1 = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
    new_password2 = forms.CharField(label="Password again", widget=forms.PasswordInput, strip=False)

    def __init__(self, *args, email: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        data = super().clean()
        one, two = data.get("new_password1"), data.get("new_password2")
        if one and two:
            if one != two:
                self.add_error("new_password2", "The two passwords differ.")
            else:
                try:
                    password_validation.validate_password(one, User(email=self.email))
                except forms.ValidationError as exc:
                    self.add_error("new_password1", exc)
        return data


@require_http_methods(["GET", "POST"])
def invitation_accept(request, token):
    """The e-mailed link: a new person chooses a password; a signed-in person joins with one click."""
    invitation = services.invitation_for_token(token)  # unknown, used or expired: a readable error page
    existing = not request.user.is_authenticated and User.objects.filter(email=invitation.email).exists()
    form = AcceptForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and not existing:
        if request.user.is_authenticated:
            membership = services.invitation_accept(token=token, user=request.user)
        elif form.is_valid():
            membership = services.invitation_accept(token=token, password=form.cleaned_data["new_password1"])
            login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        else:
            membership = None
        if membership is not None:
            request.session[SESSION_CLIENT_KEY] = membership.client.slug
            messages.success(request, f"Welcome to {membership.client.name}: you are {membership.role}.")
            return redirect("/portal/")
    return render(
        request,
        "web/invitation_accept.html",
        {"invitation": invitation, "form": form, "existing": existing, "next": request.path},
        status=400 if request.method == "POST" else 200,
    )


# --- self-service sign-up -------------------------------------------------------------------------------


class SignupForm(AcceptForm):
    organisation = forms.CharField(max_length=200, label="Organisation")
    email = forms.CharField(max_length=254, label="Email")
    field_order = ["organisation", "email", "new_password1", "new_password2"]

    def clean(self):
        self.email = (self.cleaned_data.get("email") or "").strip().lower()
        return super().clean()


def _signup_enabled():
    if not settings.QUORUM_SIGNUP_ENABLED:
        raise NotFound("Sign-up is switched off on this server: ask an existing owner for an invitation.")


@require_http_methods(["GET", "POST"])
def signup(request):
    """A new organisation and its owner; the account works once the e-mailed link is opened."""
    _signup_enabled()
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.signup_create(
                organisation=form.cleaned_data["organisation"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["new_password1"],
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            link = request.build_absolute_uri(services.signup_verify_path(user))
            send_mail(
                "Confirm your Quorum sign-up",
                f"Open this link to confirm {user.email} and start using Quorum (it works once):"
                f"\n\n{link}\n\n"
                "If you did not sign up, ignore this e-mail: the account stays locked.\n",
                None,
                [user.email],
            )
            return render(request, "web/signup_sent.html", {"email": user.email})
    return render(request, "web/signup.html", {"form": form}, status=400 if request.method == "POST" else 200)


@require_http_methods(["GET"])
def signup_verify(request, uidb64, token):
    _signup_enabled()
    user = services.signup_verify(uidb64=uidb64, token=token)  # bad link: a readable error page
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, "Your e-mail is confirmed: welcome to Quorum.")
    return redirect("/portal/")
