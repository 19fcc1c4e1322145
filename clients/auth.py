"""DRF authentication: ``Authorization: Bearer <key>``.

- ``qk_live_…`` / ``qk_test_…``: a client API key. ``request.user`` becomes a ``ClientPrincipal``
  (the client acting through a key, not a person), ``request.auth`` the ``ApiKey``.
- ``qp_…``: a personal access token of an annotator or reviewer. ``request.user`` is the ``User``.

Authentication costs no query on most requests: each process keeps what a valid key resolved to
for ``QUORUM_AUTH_CACHE_SECONDS`` (default 5), keyed by the key's SHA-256, in a bounded LRU map.
So a key revoked (or a user or client deactivated) elsewhere is refused by every process within
that many seconds, and at once by the process that revoked it (``forget``). Unknown and invalid
keys are never cached. ``last_used_at`` is written at most once a minute per key, so
authentication does not add a write to every request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import timedelta
from time import monotonic

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions

from clients import secrets as keys
from clients.models import AccessToken, ApiKey, Client

LAST_USED_RESOLUTION = timedelta(seconds=60)
CACHE_MAX_ENTRIES = 10_000


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


class _IdentityCache:
    """What valid keys resolved to, per process, for a bounded time (see the module docstring)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[float, tuple]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key_hash: str):
        with self._lock:
            entry = self._entries.get(key_hash)
            if entry is None:
                return None
            expires, identity = entry
            if monotonic() >= expires:
                del self._entries[key_hash]
                return None
            self._entries.move_to_end(key_hash)
            return identity

    def put(self, key_hash: str, identity: tuple) -> None:
        seconds = float(settings.QUORUM_AUTH_CACHE_SECONDS)
        if seconds <= 0:
            return
        with self._lock:
            self._entries[key_hash] = (monotonic() + seconds, identity)
            self._entries.move_to_end(key_hash)
            while len(self._entries) > CACHE_MAX_ENTRIES:
                self._entries.popitem(last=False)

    def forget(self, key_hash: str) -> None:
        with self._lock:
            self._entries.pop(key_hash, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


identities = _IdentityCache()


def forget(key_hash: str) -> None:
    """Drop a key from this process's cache (called when it is revoked)."""
    identities.forget(key_hash)


def authenticate_key(key: str):
    """Resolve a raw key to ``(user_or_principal, key_object)``; raise 401 if it is not valid."""
    key_hash = keys.hash_key(key)
    cached = identities.get(key_hash)
    if cached is not None:
        return cached
    identity = _resolve(key)
    identities.put(key_hash, identity)
    return identity


def _resolve(key: str):
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
        # The annotator profile comes along (``selectors.annotator_for_user`` then needs no query).
        token = AccessToken.objects.select_related("user", "user__annotator").filter(prefix=prefix).first()
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
