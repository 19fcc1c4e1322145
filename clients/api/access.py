"""Who is calling, and may they do this: the client behind a request (API key or signed-in
member) checked against the access the endpoint needs.

- ``read``: any key, any member.
- ``write``: create and change work (projects, batches, tasks): any key; members but viewers.
- ``live_config``: change or archive an existing project, which live work depends on: live keys
  only; members but viewers. A test-mode key must not be able to pause production.
- ``admin``: API keys, callback credentials, billing: live keys only; owners and admins.
"""

from __future__ import annotations

from rest_framework.request import Request

from clients.auth import ClientPrincipal
from clients.models import Client
from clients.selectors import membership_for_user
from core.errors import PermissionDenied

READ, WRITE, LIVE_CONFIG, ADMIN = "read", "write", "live_config", "admin"


def caller_client(request: Request, access: str = READ) -> Client:
    user = request.user
    if isinstance(user, ClientPrincipal):
        if access in (LIVE_CONFIG, ADMIN) and user.is_test_mode:
            raise PermissionDenied("Test-mode keys cannot do this; use a live key.", code="live_key_required")
        return user.client
    if getattr(request, "auth", None) is not None:  # a personal access token is not a client credential
        raise PermissionDenied("This endpoint needs a client API key.", code="client_key_required")
    membership = membership_for_user(user=user, slug=request.headers.get("X-Quorum-Client"))
    needed = {READ: None, WRITE: "write", LIVE_CONFIG: "write", ADMIN: "admin"}[access]
    if needed and not membership.can(needed):
        raise PermissionDenied(
            f"Your role ({membership.role}) does not allow this.", code="insufficient_role"
        )
    return membership.client


def caller_is_test_mode(request: Request) -> bool:
    user = request.user
    return isinstance(user, ClientPrincipal) and user.is_test_mode


def caller_staff(request: Request):
    """The staff user behind a request (signed in, or a staff member's personal access token)."""
    user = request.user
    if isinstance(user, ClientPrincipal) or not getattr(user, "is_staff", False) or not user.is_active:
        raise PermissionDenied("This endpoint is for Quorum staff.", code="staff_only")
    return user
