"""WHO: users, client organizations (tenants), memberships, API keys, access tokens, webhooks.

Secrets (API keys, personal access tokens) are stored as a public prefix plus a SHA-256 hash of
the whole key; the key itself is shown once at creation. Outbound messages (task callbacks and
webhook events) are rows here: written in the same transaction as the state change that causes
them and delivered by ``clients.tasks`` from ``next_attempt_at`` (docs/reliability.md,
the webhook outbox).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clients.ids import uuid7


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person: a client member, an annotator, a reviewer or staff. Logs in with an email."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.email


class Client(models.Model):
    """A buying organization: the tenant boundary of every client-owned object."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    currency = models.CharField(max_length=3, default="USD")
    # Sent as the ``scale-callback-auth`` header on task callbacks (Scale's "Callback Auth Key").
    callback_auth_key = models.CharField(max_length=64)
    # Standard Webhooks secret (``whsec_`` + base64 of 32 random bytes) signing task callbacks.
    callback_signing_secret = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        ADMIN = "admin"
        MEMBER = "member"
        VIEWER = "viewer"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "client"], name="membership_user_client_uniq")]

    # What each role may do: "write" (work: projects, batches, tasks), "admin" (keys, credentials, billing).
    PERMISSIONS = {
        Role.OWNER: {"write", "admin", "team"},  # "team": invite, change roles, remove members
        Role.ADMIN: {"write", "admin"},
        Role.MEMBER: {"write"},
        Role.VIEWER: set(),
    }

    def can(self, permission: str) -> bool:
        return permission in self.PERMISSIONS.get(self.role, set())


class Invitation(models.Model):
    """An owner's invitation of ``email`` to join ``client`` with ``role``: the accept link carries a
    secret token of which only the SHA-256 hash is stored. Single use (``accepted_at``), and refused
    after ``expires_at`` (``QUORUM_INVITATION_DAYS`` after creation)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at


class ApiKey(models.Model):
    """A client's API key: ``qk_<mode>_<prefix>.<secret>``; only prefix and hash are stored."""

    class Mode(models.TextChoices):
        LIVE = "live"
        TEST = "test"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.LIVE)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"


class AccessToken(models.Model):
    """A personal access token (``qp_<prefix>.<secret>``) for annotators and reviewers."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)


class WebhookEndpoint(models.Model):
    """A client's subscription to events, signed with its own Standard Webhooks secret."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    secret = models.CharField(max_length=100)
    events = models.JSONField(default=list, blank=True)  # empty list = every event
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)


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
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="deliveries")
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


class Event(models.Model):
    """The audit log of every app: one row per state change (actor, kind, before, after), written in
    the same transaction. It lives in ``clients`` because that app is the bottom of the call graph."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now)
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
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
    # transaction). Only ``clients.events.RELAYED_EVENTS`` kinds are in the relay's index.
    relay_pending = models.BooleanField(default=False, db_default=True)

    class Meta:
        indexes = [
            models.Index(fields=["entity_type", "entity_id"], name="event_entity_idx"),
            models.Index(
                fields=["id"],
                name="event_relay_pending_idx",
                condition=Q(relay_pending=True, kind__in=["task.completed"]),
            ),
        ]
