"""Reads for the clients app, with the caller's visibility applied."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from clients.models import ApiKey, Client, Invitation, Membership, User
from core.errors import PermissionDenied
from core.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint


def membership_for_user(*, user: User, slug: str | None = None) -> Membership:
    """The membership a signed-in person acts through: for the client named by ``slug``, or
    their only one."""
    memberships = Membership.objects.select_related("client").filter(user=user, client__is_active=True)
    if slug:
        memberships = memberships.filter(client__slug=slug)
    found = list(memberships[:2])
    if not found:
        raise PermissionDenied("You are not a member of any client.", code="no_client")
    if len(found) > 1:
        raise PermissionDenied(
            "You belong to several clients: name one with the X-Quorum-Client header.",
            code="ambiguous_client",
        )
    return found[0]


def api_key_list_for_client(*, client: Client) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(client=client).order_by("-created_at")


def delivery_list_for_client(*, client: Client, is_test: bool = False) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(client=client, is_test=is_test).order_by("-created_at")


def membership_list_for_user(*, user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.select_related("client")
        .filter(user=user, client__is_active=True)
        .order_by("client__name")
    )


def webhook_endpoint_list_for_client(*, client: Client) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(client=client).order_by("-created_at")


def delivery_log_for_client(*, client: Client, endpoint_id=None, limit: int = 50) -> list[WebhookDelivery]:
    """The newest deliveries (live mode) with their attempts, optionally of one endpoint."""
    qs = (
        delivery_list_for_client(client=client)
        .select_related("endpoint")
        .prefetch_related(Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("-attempted_at")))
    )
    if endpoint_id is not None:
        qs = qs.filter(endpoint_id=endpoint_id)
    return list(qs[:limit])


def membership_list_for_client(*, client: Client) -> QuerySet[Membership]:
    return Membership.objects.filter(client=client).select_related("user").order_by("user__email")


def invitation_pending_for_client(*, client: Client) -> QuerySet[Invitation]:
    """Invitations neither accepted nor expired, newest first."""
    return (
        Invitation.objects.filter(client=client, accepted_at=None, expires_at__gt=timezone.now())
        .select_related("invited_by")
        .order_by("-created_at")
    )
