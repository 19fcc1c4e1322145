"""Who is calling: the client behind a request (API key or signed-in member)."""

from __future__ import annotations

from rest_framework.request import Request

from clients.auth import ClientPrincipal
from clients.errors import PermissionDenied
from clients.models import Client
from clients.selectors import client_for_user


def caller_client(request: Request) -> Client:
    user = request.user
    if isinstance(user, ClientPrincipal):
        return user.client
    if getattr(request, "auth", None) is not None:  # a personal access token is not a client credential
        raise PermissionDenied("This endpoint needs a client API key.", code="client_key_required")
    return client_for_user(user=user, slug=request.headers.get("X-Quorum-Client"))


def caller_is_test_mode(request: Request) -> bool:
    user = request.user
    return isinstance(user, ClientPrincipal) and user.is_test_mode
