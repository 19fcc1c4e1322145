"""The kernel's rows: the outbox (webhook endpoints, deliveries and their attempt log) and the event
log that every app writes.

Each row belongs to a tenant: the foreign keys name ``clients.Client`` by its label, the one
relation the kernel holds to an app (a database relation, no Python import: ``core`` imports no
app). The tables kept the names they had when these models lived in ``clients`` (``db_table``);
``core/migrations/0001_initial.py`` took them over without touching the database.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.ids import uuid7


class WebhookEndpoint(models.Model):
    """A client's subscription to events, signed with its own Standard Webhooks secret."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    secret = models.CharField(max_length=100)
    events = models.JSONField(default=list, blank=True)  # empty list = every event
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "clients_webhookendpoint"


class WebhookDelivery(models.Model):
    """One message to deliver (an outbox row), retried from ``next_attempt_at`` until done.

    ``dedupe_key`` makes the enqueue idempotent: the same business event (e.g. task X completed)
    writes at most one row per target. ``message_id`` is the Standard Webhooks ``webhook-id``,
    stable across retries so receivers can de-duplicate.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"  # retries exhausted, or the target answered 410 Gone

    class Kind(models.TextChoices):
        TASK_CALLBACK = "task_callback"  # to a task's callback_url (Scale's task callback)
        BATCH_CALLBACK = "batch_callback"  # to a batch's callback_url when it completes
        WEBHOOK = "webhook"  # an event to a client's webhook endpoint

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    event_type = models.CharField(max_length=60)
    dedupe_key = models.CharField(max_length=200, unique=True)
    message_id = models.CharField(max_length=64, unique=True)
    url = models.CharField(max_length=2000)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    is_test = models.BooleanField(default=False)  # about a test-mode object: shown to test keys only
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the dispatcher last sent a wake-up for this row: it does not send another while one
    # may still be queued, so a backlog does not multiply messages in Redis.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.IntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "clients_webhookdelivery"
        indexes = [
            models.Index(fields=["next_attempt_at"], name="delivery_due_idx", condition=Q(status="pending")),
            models.Index(fields=["client", "-created_at"], name="delivery_client_idx"),
        ]


class DeliveryAttempt(models.Model):
    """The delivery log: one row per HTTP attempt, with what the receiver answered."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        db_table = "clients_deliveryattempt"


class Event(models.Model):
    """The audit log of every app: one row per state change (actor, kind, before, after), written in
    the same transaction. It lives in the kernel because every app writes it."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now)
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )  # keep the audit trail
    actor = models.CharField(max_length=120)
    entity_type = models.CharField(max_length=30)
    entity_id = models.UUIDField()
    kind = models.CharField(max_length=40)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    # True on rows the SQL functions write (the database default: ``quorum_event`` does not name
    # the column) until the endpoint relay has fanned a subscribable one out to the client's
    # webhook endpoints; rows written from Python are False (they fan out in their own
    # transaction). Only ``core.events.RELAYED_EVENTS`` kinds are in the relay's index.
    relay_pending = models.BooleanField(default=False, db_default=True)

    class Meta:
        db_table = "clients_event"
        indexes = [
            models.Index(fields=["entity_type", "entity_id"], name="event_entity_idx"),
            models.Index(
                fields=["id"],
                name="event_relay_pending_idx",
                condition=Q(relay_pending=True, kind__in=["task.completed"]),
            ),
        ]
