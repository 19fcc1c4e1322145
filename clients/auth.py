"""DRF authentication: ``Authorization: Bearer <key>``.

- ``qk_live_…`` / ``qk_test_…``: a client API key. ``request.user`` becomes a ``ClientPrincipal``
  (the client acting through a key, not a person), ``request.auth`` the ``ApiKey``.
- ``qp_…``: a personal access token of an annotator or reviewer. ``request.user`` is the ``User``.

A revoked or unknown key answers 401 on the very next request. ``last_used_at`` is written at most
once a minute per key, so authentication does not add a write to every request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions

from clients import secrets as keys
from clients.models import AccessToken, ApiKey, Client

LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(eq=False)
class ClientPrincipal:
    """The caller behind a client API key."""

    client: Client
    api_key: ApiKey
    is_authenticated: bool = field(default=True, init=False)
    is_anonymous: bool = field(default=False, init=False)
    is_staff: bool = field(default=False, init=False)
    is_superuser: bool = field(default=False, init=False)

    @property
    def pk(self):
        return self.api_key.pk

    @property
    def is_test_mode(self) -> bool:
        return self.api_key.mode == ApiKey.Mode.TEST

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


def _touch(model, obj) -> None:
    now = timezone.now()
    if obj.last_used_at is not None and obj.last_used_at >= now - LAST_USED_RESOLUTION:
        return  # fresh enough: no write on the hot path
    model.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION), pk=obj.pk
    ).update(last_used_at=now)


def authenticate_key(key: str):
    """Resolve a raw key to ``(user_or_principal, key_object)``; raise 401 if it is not valid."""
    parsed = keys.parse_key(key)
    if parsed is None:
        raise exceptions.AuthenticationFailed("Malformed API key.", code="invalid_api_key")
    kind, prefix = parsed
    if kind in ("qk_live", "qk_test"):
        api_key = ApiKey.objects.select_related("client").filter(prefix=prefix).first()
        if (
            api_key is None
            or not keys.matches(key, api_key.key_hash)
            or api_key.revoked_at is not None
            or not api_key.client.is_active
        ):
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.", code="invalid_api_key")
        _touch(ApiKey, api_key)
        return ClientPrincipal(client=api_key.client, api_key=api_key), api_key
    if kind == "qp":
        token = AccessToken.objects.select_related("user").filter(prefix=prefix).first()
        if (
            token is None
            or not keys.matches(key, token.key_hash)
            or token.revoked_at is not None
            or not token.user.is_active
        ):
            raise exceptions.AuthenticationFailed("Invalid or revoked access token.", code="invalid_token")
        _touch(AccessToken, token)
        return token.user, token
    raise exceptions.AuthenticationFailed("Unknown key type.", code="invalid_api_key")


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        key = key.strip()
        if not key:
            raise exceptions.AuthenticationFailed("Empty bearer token.", code="invalid_api_key")
        return authenticate_key(key)

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="quorum"'
