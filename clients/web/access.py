"""Who may see a page: the same rules as the API (``clients.api.access``), for signed-in people.

- client pages: the signed-in person's membership of a client; ``read`` for every role, ``write``
  for members and up (not viewers), ``admin`` for owners and admins. A person with several
  memberships picks one (kept in the session, ``/portal/client``).
- staff pages: ``is_staff`` and active.

A refusal raises ``core.errors.PermissionDenied``; ``clients.web.errors`` renders it as a page.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from django.shortcuts import redirect

from clients.models import Membership
from clients.selectors import membership_for_user
from core.errors import PermissionDenied

READ, WRITE, ADMIN, TEAM = "read", "write", "admin", "team"
SESSION_CLIENT_KEY = "web_client_slug"
_NEEDED = {READ: None, WRITE: "write", ADMIN: "admin", TEAM: "team"}  # TEAM: owners only


def page_membership(request: HttpRequest, access: str = READ) -> Membership:
    """The membership the signed-in person acts through, checked against ``access``."""
    slug = request.session.get(SESSION_CLIENT_KEY)
    try:
        membership = membership_for_user(user=request.user, slug=slug)
    except PermissionDenied:
        if not slug:
            raise
        request.session.pop(SESSION_CLIENT_KEY, None)  # the chosen client is gone: fall back to the only one
        membership = membership_for_user(user=request.user)
    needed = _NEEDED[access]
    if needed and not membership.can(needed):
        raise PermissionDenied(
            f"Your role ({membership.role}) does not allow this: ask an owner or admin of "
            f"{membership.client.name}.",
            code="insufficient_role",
        )
    request.web_client = membership.client
    request.web_membership = membership
    return membership


def client_page(access: str = READ):
    """Decorate a page view ``view(request, client, ...)``: sign-in required, then the membership.

    ``access`` is what viewing the page needs; a view that also writes (on POST) checks
    ``page_membership(request, WRITE)`` itself before calling the service."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                membership = page_membership(request, access)
            except PermissionDenied as exc:
                if exc.code == "ambiguous_client":
                    return redirect(f"/portal/client?next={request.path}")
                raise
            return view(request, membership.client, *args, **kwargs)

        return wrapper

    return decorator


def staff_page(view):
    """Decorate a staff-only page view ``view(request, ...)``."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not (user.is_staff and user.is_active):
            raise PermissionDenied("This page is for Quorum staff.", code="staff_only")
        return view(request, *args, **kwargs)

    return wrapper
