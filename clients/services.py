"""Writes for users, clients, memberships, API keys and access tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.text import slugify

from clients import auth
from clients import secrets as keys
from clients.models import AccessToken, ApiKey, Client, Invitation, Membership, User
from core import events, outbound
from core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from core.models import WebhookEndpoint
from core.transactions import after_commit


@dataclass(frozen=True)
class IssuedKey:
    """A freshly created key: ``key`` is the only time the secret is ever available."""

    obj: ApiKey | AccessToken
    key: str


@transaction.atomic
def user_create(*, email: str, password: str | None = None, name: str = "", is_staff: bool = False) -> User:
    email = (email or "").strip().lower()
    if not email or "@" not in email:
        raise ValidationFailed("A valid email address is required.", code="invalid_email")
    if User.objects.filter(email=email).exists():
        raise Conflict(f"A user with email {email} already exists.", code="user_exists")
    return User.objects.create_user(email=email, password=password, name=name, is_staff=is_staff)


@transaction.atomic
def client_create(*, name: str, slug: str | None = None, currency: str = "USD", actor: Any = None) -> Client:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("A client name is required.", code="invalid_name")
    slug = slugify(slug or name)[:80]
    if not slug:
        raise ValidationFailed("The client name must contain letters or digits.", code="invalid_name")
    currency = (currency or "").upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ValidationFailed("currency must be an ISO 4217 code such as USD.", code="invalid_currency")
    try:
        with transaction.atomic():
            client = Client.objects.create(
                name=name,
                slug=slug,
                currency=currency,
                callback_auth_key=keys.new_callback_auth_key(),
                callback_signing_secret=keys.new_webhook_secret(),
            )
    except IntegrityError as exc:
        raise Conflict(f"A client with slug {slug!r} already exists.", code="client_exists") from exc
    events.record(
        actor=actor,
        entity=client,
        kind="client.created",
        after={"name": name, "slug": slug},
        client_id=client.id,
    )
    return client


@transaction.atomic
def membership_create(
    *, user: User, client: Client, role: str = Membership.Role.MEMBER, actor: Any = None
) -> Membership:
    if role not in Membership.Role.values:
        raise ValidationFailed(
            f"role must be one of {', '.join(Membership.Role.values)}.", code="invalid_role"
        )
    membership, created = Membership.objects.update_or_create(
        user=user, client=client, defaults={"role": role}
    )
    events.record(
        actor=actor,
        entity=membership,
        kind="membership.created" if created else "membership.changed",
        after={"user": str(user.pk), "role": role},
        client_id=client.id,
    )
    return membership


@transaction.atomic
def api_key_create(
    *,
    client: Client,
    name: str,
    mode: str = ApiKey.Mode.LIVE,
    created_by: User | None = None,
    actor: Any = None,
) -> IssuedKey:
    if mode not in ApiKey.Mode.values:
        raise ValidationFailed("mode must be 'live' or 'test'.", code="invalid_mode")
    name = (name or "").strip()[:100] or "API key"
    key, prefix, key_hash = keys.new_key(f"qk_{mode}")
    api_key = ApiKey.objects.create(
        client=client, name=name, mode=mode, prefix=prefix, key_hash=key_hash, created_by=created_by
    )
    events.record(
        actor=actor or created_by,
        entity=api_key,
        kind="api_key.created",
        after={"prefix": prefix, "mode": mode},
    )
    return IssuedKey(obj=api_key, key=key)


@transaction.atomic
def api_key_revoke(*, client: Client, api_key_id, actor: Any = None) -> ApiKey:
    """Revoke a key: 401 from its next request on in this process, and within
    ``QUORUM_AUTH_CACHE_SECONDS`` in every other (``clients.auth``). Revoking twice answers 409."""
    try:
        api_key = ApiKey.objects.select_for_update().get(client=client, id=api_key_id)
    except (ApiKey.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("API key not found.") from exc
    if api_key.revoked_at is not None:
        raise Conflict("This API key is already revoked.", code="already_revoked")
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    # This process forgets it at once (and again after COMMIT, in case a request of this process
    # remembered it in between); every other process within QUORUM_AUTH_CACHE_SECONDS.
    auth.forget(api_key.key_hash)
    after_commit(auth.forget, api_key.key_hash)
    events.record(actor=actor, entity=api_key, kind="api_key.revoked", after={"prefix": api_key.prefix})
    return api_key


@transaction.atomic
def access_token_create(*, user: User, name: str = "personal access token", actor: Any = None) -> IssuedKey:
    key, prefix, key_hash = keys.new_key("qp")
    token = AccessToken.objects.create(user=user, name=name[:100], prefix=prefix, key_hash=key_hash)
    events.record(
        actor=actor or user,
        entity=token,
        kind="access_token.created",
        after={"prefix": prefix, "user": str(user.pk)},
    )
    return IssuedKey(obj=token, key=key)


# Events a webhook endpoint may subscribe to (an empty list: every event): the catalogue's names.
WEBHOOK_EVENTS = tuple(events.WEBHOOK_EVENTS)


@transaction.atomic
def webhook_endpoint_create(
    *, client: Client, url: str, events_wanted: list[str] | None = None, actor: Any = None
) -> WebhookEndpoint:
    """Subscribe ``url`` to the client's events, with its own signing secret. The URL must be a
    http(s) URL whose host is not a private address literal; the name is resolved and the address
    policy applied at every delivery, never here (creation does not depend on DNS)."""
    url = (url or "").strip()
    try:
        outbound.check_url(url)
    except ValidationFailed as exc:
        raise ValidationFailed(f"url: {exc.message}", code=exc.code, details={"field": "url"}) from exc
    if events_wanted is not None and (
        not isinstance(events_wanted, list | tuple) or not all(isinstance(n, str) for n in events_wanted)
    ):
        raise ValidationFailed(
            "events: must be a list of event names", code="invalid_events", details={"field": "events"}
        )
    wanted = sorted(set(events_wanted or []))
    unknown = [name for name in wanted if name not in WEBHOOK_EVENTS]
    if unknown:
        raise ValidationFailed(
            f"events: {unknown[0]!r} is not one of {', '.join(WEBHOOK_EVENTS)}",
            code="invalid_events",
            details={"field": "events"},
        )
    endpoint = WebhookEndpoint.objects.create(
        client=client, url=url, secret=keys.new_webhook_secret(), events=wanted
    )
    events.record(
        actor=actor,
        entity=endpoint,
        kind="webhook_endpoint.created",
        after={"url": url, "events": wanted},
        client_id=client.id,
    )
    return endpoint


@transaction.atomic
def webhook_endpoint_set_enabled(
    *, client: Client, endpoint_id, enabled: bool, actor: Any = None
) -> WebhookEndpoint:
    """Pause or resume deliveries to an endpoint (pending ones stay queued for an enabled endpoint)."""
    try:
        endpoint = WebhookEndpoint.objects.select_for_update().get(client=client, id=endpoint_id)
    except (WebhookEndpoint.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("Webhook endpoint not found.") from exc
    if endpoint.enabled == enabled:
        raise Conflict(f"This endpoint is already {'enabled' if enabled else 'disabled'}.", code="no_change")
    before = {"enabled": endpoint.enabled}
    endpoint.enabled = enabled
    endpoint.disabled_reason = "" if enabled else "disabled by the client"
    endpoint.save(update_fields=["enabled", "disabled_reason"])
    events.record(
        actor=actor,
        entity=endpoint,
        kind="webhook_endpoint.enabled" if enabled else "webhook_endpoint.disabled",
        before=before,
        after={"enabled": enabled},
        client_id=client.id,
    )
    return endpoint


@transaction.atomic
def client_owner_add(*, client: Client, email: str, actor: Any = None) -> tuple[User, bool]:
    """Make the person with ``email`` an owner of ``client``, creating them (without a password:
    they choose one through ``password_set_path``) when nobody has that address. Returns the user
    and whether they were created."""
    email = (email or "").strip().lower()
    user = User.objects.filter(email=email).first()
    created = user is None
    if created:
        user = user_create(email=email)
    membership_create(user=user, client=client, role=Membership.Role.OWNER, actor=actor)
    return user, created


def password_set_path(user: User) -> str:
    """The path of a one-time link where ``user`` chooses a password (Django's password-reset
    confirm view and ``default_token_generator``: the token dies once the password changes, or after
    ``PASSWORD_RESET_TIMEOUT``)."""
    return reverse("password_reset_confirm", kwargs=_one_time_link_kwargs(user))


def _one_time_link_kwargs(user: User) -> dict[str, str]:
    """``uidb64`` and ``token`` of a one-time link for ``user`` (``default_token_generator``)."""
    return {
        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
    }


# --- team: invitations, roles, removal ----------------------------------------------------------------


@dataclass(frozen=True)
class IssuedInvitation:
    """A fresh invitation: ``token`` (in the accept link) is never stored, only its hash."""

    obj: Invitation
    token: str


def _clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        raise ValidationFailed(
            "email: enter a valid email address", code="invalid_email", details={"field": "email"}
        ) from exc
    return email


@transaction.atomic
def invitation_create(
    *, client: Client, email: str, role: str, invited_by: User | None = None
) -> IssuedInvitation:
    """Invite ``email`` to ``client`` with ``role``. Refused for a current member and while another
    invitation of that address to this client is pending (neither used nor expired)."""
    email = _clean_email(email)
    if role not in Membership.Role.values:
        raise ValidationFailed(
            f"role: must be one of {', '.join(Membership.Role.values)}",
            code="invalid_role",
            details={"field": "role"},
        )
    Client.objects.select_for_update().filter(pk=client.pk).first()  # one invitation at a time per client
    if Membership.objects.filter(client=client, user__email=email).exists():
        raise Conflict(
            f"email: {email} is already a member of {client.name}",
            code="already_member",
            details={"field": "email"},
        )
    now = timezone.now()
    if Invitation.objects.filter(client=client, email=email, accepted_at=None, expires_at__gt=now).exists():
        raise Conflict(
            f"email: {email} already has a pending invitation",
            code="already_invited",
            details={"field": "email"},
        )
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        client=client,
        email=email,
        role=role,
        token_hash=keys.hash_key(token),
        invited_by=invited_by,
        expires_at=now + timedelta(days=settings.QUORUM_INVITATION_DAYS),
    )
    events.record(
        actor=invited_by,
        entity=invitation,
        kind="invitation.created",
        after={"email": email, "role": role},
        client_id=client.id,
    )
    return IssuedInvitation(obj=invitation, token=token)


def _pending_invitation(client: Client, invitation_id) -> Invitation:
    """The client's invitation, locked; refused when it has been used. Precondition: in a
    transaction."""
    try:
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("client")
            .get(client=client, id=invitation_id)
        )
    except (Invitation.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("Invitation not found.") from exc
    if invitation.accepted_at is not None:
        raise Conflict(
            f"The invitation of {invitation.email} has already been accepted.", code="invitation_used"
        )
    return invitation


@transaction.atomic
def invitation_revoke(*, client: Client, invitation_id, actor: Any = None) -> Invitation:
    """Cancel a pending (or expired) invitation: the row goes, so its link stops working at once;
    the event keeps who was invited, with what role, and who cancelled."""
    invitation = _pending_invitation(client, invitation_id)
    events.record(
        actor=actor,
        entity=invitation,
        kind="invitation.revoked",
        before={"email": invitation.email, "role": invitation.role},
        client_id=client.id,
    )
    invitation.delete()
    return invitation


@transaction.atomic
def invitation_resend(*, client: Client, invitation_id, actor: Any = None) -> IssuedInvitation:
    """A fresh token (and a fresh expiry) for a pending or expired invitation: the link mailed
    before stops working. Mail the new one with ``invitation_send`` once this has committed."""
    invitation = _pending_invitation(client, invitation_id)
    token = secrets.token_urlsafe(32)
    before = {"expires_at": invitation.expires_at.isoformat()}
    invitation.token_hash = keys.hash_key(token)
    invitation.expires_at = timezone.now() + timedelta(days=settings.QUORUM_INVITATION_DAYS)
    invitation.save(update_fields=["token_hash", "expires_at"])
    events.record(
        actor=actor,
        entity=invitation,
        kind="invitation.resent",
        before=before,
        after={"expires_at": invitation.expires_at.isoformat()},
        client_id=client.id,
    )
    return IssuedInvitation(obj=invitation, token=token)


def invitation_send(*, invitation: Invitation, accept_url: str) -> None:
    """Mail the accept link; call it once ``invitation_create`` has committed."""
    inviter = invitation.invited_by.email if invitation.invited_by else "An owner"
    body = (
        f"{inviter} invites you to join {invitation.client.name} on Quorum as {invitation.role}.\n\n"
        f"Accept here (the link works once, until {invitation.expires_at:%Y-%m-%d %H:%M} UTC):\n\n"
        f"{accept_url}\n\nIf you did not expect this, ignore this e-mail.\n"
    )
    subject = f"Join {invitation.client.name} on Quorum"
    send_mail(subject, body, None, [invitation.email])


def invitation_for_token(token: str) -> Invitation:
    """The usable invitation behind ``token``, or a readable refusal: unknown, used or expired."""
    invitation = (
        Invitation.objects.select_related("client", "invited_by")
        .filter(token_hash=keys.hash_key(token or ""))
        .first()
    )
    if invitation is None:
        raise NotFound("This invitation link is not valid. Ask the owner who invited you for a new one.")
    if invitation.accepted_at is not None:
        raise Conflict("This invitation has already been used.", code="invitation_used")
    if invitation.is_expired():
        raise Conflict(
            "This invitation has expired. Ask an owner of the organisation to invite you again.",
            code="invitation_expired",
        )
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: User | None = None, password: str | None = None) -> Membership:
    """Accept an invitation: as the signed-in ``user`` (whose email must be the invited one), or as a
    new person choosing ``password`` (a user with the invited email is created). Single use."""
    invitation = invitation_for_token(token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:  # accepted concurrently
        raise Conflict("This invitation has already been used.", code="invitation_used")
    if user is None:
        if User.objects.filter(email=invitation.email).exists():
            raise Conflict(
                f"An account for {invitation.email} already exists: sign in, then open the link again.",
                code="sign_in_first",
            )
        user = User.objects.create_user(email=invitation.email, password=password)
    elif user.email.lower() != invitation.email:
        raise PermissionDenied(
            f"This invitation is for {invitation.email}; you are signed in as {user.email}. "
            "Sign out and open the link again.",
            code="wrong_account",
        )
    if Membership.objects.filter(user=user, client=invitation.client).exists():
        raise Conflict(f"You are already a member of {invitation.client.name}.", code="already_member")
    membership = membership_create(user=user, client=invitation.client, role=invitation.role, actor=user)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


def _team_membership(client: Client, membership_id) -> Membership:
    try:
        return (
            Membership.objects.select_for_update().select_related("user").get(client=client, id=membership_id)
        )
    except (Membership.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("Member not found.") from exc


def _refuse_last_owner(client: Client, membership: Membership) -> None:
    owners = list(
        Membership.objects.select_for_update()
        .filter(client=client, role=Membership.Role.OWNER)
        .values_list("id", flat=True)
    )
    if membership.role == Membership.Role.OWNER and owners == [membership.id]:
        raise Conflict(
            f"{membership.user.email} is the last owner of {client.name}: make another member owner first.",
            code="last_owner",
        )


@transaction.atomic
def membership_role_change(*, client: Client, membership_id, role: str, actor: Any = None) -> Membership:
    if role not in Membership.Role.values:
        raise ValidationFailed(
            f"role: must be one of {', '.join(Membership.Role.values)}", code="invalid_role"
        )
    membership = _team_membership(client, membership_id)
    if membership.role == role:
        raise Conflict(f"{membership.user.email} is already {role}.", code="no_change")
    if role != Membership.Role.OWNER:
        _refuse_last_owner(client, membership)
    before = {"role": membership.role}
    membership.role = role
    membership.save(update_fields=["role"])
    events.record(
        actor=actor,
        entity=membership,
        kind="membership.changed",
        before=before,
        after={"role": role},
        client_id=client.id,
    )
    return membership


@transaction.atomic
def membership_remove(*, client: Client, membership_id, actor: Any = None) -> Membership:
    membership = _team_membership(client, membership_id)
    _refuse_last_owner(client, membership)
    events.record(
        actor=actor,
        entity=membership,
        kind="membership.removed",
        before={"user": str(membership.user_id), "role": membership.role},
        client_id=client.id,
    )
    membership.delete()
    return membership


# --- self-service sign-up -------------------------------------------------------------------------------


@transaction.atomic
def signup_create(*, organisation: str, email: str, password: str) -> User:
    """A new client organisation and its owner, who cannot sign in until the e-mailed link
    (``signup_verify``) proves the address. Refused when the address already has an account."""
    email = _clean_email(email)
    if User.objects.filter(email=email).exists():
        raise Conflict("email: an account with this email already exists", code="user_exists")
    try:
        client = client_create(name=organisation)
    except DomainError as exc:
        message = (
            "an organisation with this name already exists" if exc.code == "client_exists" else exc.message
        )
        raise type(exc)(f"organisation: {message}", code=exc.code, details={"field": "organisation"}) from exc
    user = User.objects.create_user(email=email, password=password, is_active=False)
    membership_create(user=user, client=client, role=Membership.Role.OWNER, actor=user)
    return user


def signup_verify_path(user: User) -> str:
    return reverse("signup-verify", kwargs=_one_time_link_kwargs(user))


@transaction.atomic
def signup_verify(*, uidb64: str, token: str) -> User:
    """Activate the account behind a sign-up link. The token dies at the first sign-in (it is bound to
    ``last_login``) and after ``PASSWORD_RESET_TIMEOUT``."""
    try:
        user = User.objects.select_for_update().get(pk=urlsafe_base64_decode(uidb64).decode())
    except (User.DoesNotExist, ValueError, TypeError, UnicodeDecodeError, DjangoValidationError) as exc:
        raise NotFound("This sign-up link is not valid.") from exc
    if not default_token_generator.check_token(user, token):
        raise Conflict(
            "This sign-up link is invalid, already used or expired. Sign in, or reset your password.",
            code="signup_link_invalid",
        )
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
        events.record(actor=user, entity=user, kind="user.verified", after={"email": user.email})
    return user
