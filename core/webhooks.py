"""Outbound messages: Standard Webhooks signing, the delivery outbox and one delivery attempt.

A message (a Scale-style task callback or a webhook event) is a ``WebhookDelivery`` row written in
the same transaction as the change that causes it (``delivery_enqueue``). Celery messages are only
wake-ups: ``core.tasks.deliver`` runs ``delivery_attempt``, and the beat job
``core.tasks.dispatch_due_deliveries`` re-sends wake-ups for every row that is due, which also
relays rows whose message was lost.

One attempt is three steps, so no transaction stays open during the HTTP call:

1. claim (short transaction): lock the row with ``SKIP LOCKED``, check it is pending and due,
   bump ``attempts``, push ``next_attempt_at`` past the request timeout (a lease: no other
   worker finds it due while this one sends) and write the ``DeliveryAttempt`` log row, marked
   in flight, before anything is sent;
2. send (no transaction): sign and POST through ``core.outbound``;
3. record (short transaction): fill in the attempt's row and move the delivery on, guarded by
   ``attempts`` so a late outcome never overwrites a newer attempt.

The send has a hard overall deadline (``QUORUM_OUTBOUND_TIMEOUT_SECONDS``, enforced by a watchdog in
``core.outbound``), so the lease needs no heartbeat: it is that deadline plus a margin. A worker
killed mid-send (``kill -9``) leaves its attempt row in flight; the delivery falls due again when the
lease ends (about 45 s), and the next claim records the lost attempt as such (``LOST``), so every
counted attempt has its row.

Delivery is at least once: receivers de-duplicate on ``webhook-id`` (stable across retries).
"""

from __future__ import annotations

import json
import logging
import math
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from core import events, outbound
from core.errors import Conflict, ValidationFailed
from core.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from core.transactions import after_commit

logger = logging.getLogger(__name__)

USER_AGENT = "Quorum-Webhooks/1.0"
# The claim's lease outlives the request timeout by this much (clock skew, slow commits).
LEASE_MARGIN_SECONDS = 30
RETRY_JITTER = 0.10
# A receiver's Retry-After is honoured up to a day, so it cannot park a message for ever.
MAX_RETRY_AFTER_SECONDS = 86_400
RETRY_AFTER_STATUSES = frozenset({429, 503})
# The error text of an attempt row between its claim and its outcome, and of one whose worker died.
IN_FLIGHT = "in flight: sending"
LOST = "lost: the worker stopped before the outcome was recorded (the receiver may have it)"


# -- signing --------------------------------------------------------------------------------------


def sign_headers(*, secret: str, message_id: str, timestamp: datetime, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``, signed with ``secret`` (``whsec_…``).

    The signature covers ``{message_id}.{unix seconds}.{body}``; ``body`` must be the exact bytes
    that are sent (UTF-8). ``timestamp`` must be timezone-aware.
    """
    if timestamp.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    utc_timestamp = timestamp.astimezone(UTC)
    signature = Webhook(secret).sign(msg_id=message_id, timestamp=utc_timestamp, data=body.decode("utf-8"))
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(math.floor(utc_timestamp.timestamp())),
        "webhook-signature": signature,
    }


def message_body(payload: Any) -> bytes:
    """The bytes sent (and signed) for ``payload``: compact UTF-8 JSON with sorted keys, so the
    bytes do not depend on how the database stored the object (jsonb reorders keys)."""
    return json.dumps(
        payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def new_message_id() -> str:
    return "msg_" + uuid.uuid4().hex


# -- enqueue --------------------------------------------------------------------------------------


@transaction.atomic
def delivery_enqueue(
    *,
    client: models.Model,  # a clients.Client: the kernel names no app
    kind: str,
    event_type: str,
    url: str,
    payload: dict,
    dedupe_key: str,
    endpoint: WebhookEndpoint | None = None,
    is_test: bool = False,
) -> WebhookDelivery:
    """Write the outbox row for one message and wake a worker once the transaction commits.

    Precondition: call it inside the transaction that makes the business change (task completed,
    …), so the message exists if and only if the change does. ``url`` should have been accepted
    with ``outbound.check_url`` (no DNS); it is resolved and checked at send time.

    Idempotent on ``dedupe_key``: if a row with that key exists it is returned and nothing is
    created or scheduled.
    """
    if kind not in WebhookDelivery.Kind.values:
        raise ValidationFailed(f"Unknown delivery kind {kind!r}.", code="invalid_kind")
    if kind == WebhookDelivery.Kind.WEBHOOK and endpoint is None:
        raise ValidationFailed("A webhook delivery needs an endpoint.", code="invalid_kind")
    if endpoint is not None and endpoint.client_id != client.id:
        raise ValidationFailed("The endpoint belongs to another client.", code="invalid_endpoint")
    if not dedupe_key or len(dedupe_key) > 200:
        raise ValidationFailed("dedupe_key must be 1 to 200 characters.", code="invalid_dedupe_key")
    # get_or_create inserts inside a savepoint and re-reads on a unique violation, so a
    # concurrent enqueue of the same key (which waits for the other insert) returns that row.
    delivery, created = WebhookDelivery.objects.get_or_create(
        dedupe_key=dedupe_key,
        defaults={
            "client": client,
            "endpoint": endpoint,
            "kind": kind,
            "event_type": event_type,
            "url": url,
            "payload": payload,
            "message_id": new_message_id(),
            "is_test": is_test,
            "dispatched_at": timezone.now(),  # the on-commit wake-up below is this row's dispatch
        },
    )
    if delivery.client_id != client.id:
        raise Conflict("dedupe_key is already used by another client.", code="dedupe_key_conflict")
    if created:
        # after COMMIT: a broker outage must not fail the caller's request; the dispatcher relays the row.
        after_commit(wake_worker, delivery.id)
    return delivery


def _envelope(event_type: str, payload: dict, at: datetime | None = None) -> dict:
    """The Standard Webhooks envelope ``{"type", "timestamp", "data"}`` of an endpoint event."""
    return {
        "type": event_type,
        "timestamp": (at or timezone.now()).astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": payload,
    }


def subscribed_endpoints(*, client_id, event_type: str) -> list[WebhookEndpoint]:
    """The client's enabled endpoints subscribed to ``event_type`` (an empty ``events`` list means
    every event), by id."""
    if event_type not in events.WEBHOOK_EVENTS:
        raise ValueError(f"{event_type!r} is not in core.events.WEBHOOK_EVENTS")
    endpoints = WebhookEndpoint.objects.filter(client_id=client_id, enabled=True).order_by("id")
    return [e for e in endpoints if not e.events or event_type in e.events]


@transaction.atomic
def endpoint_event_enqueue(
    *,
    client: models.Model,  # a clients.Client: the kernel names no app
    event_type: str,
    payload: dict,
    dedupe_key: str,
    is_test: bool = False,
    at: datetime | None = None,
) -> list[WebhookDelivery]:
    """Fan ``event_type`` out to the client's enabled endpoints subscribed to it (an empty
    ``events`` list means every event): one delivery per endpoint, keyed ``<dedupe_key>:<endpoint id>``,
    so running it again for the same event (a relay's retry) adds nothing.

    The body is the Standard Webhooks envelope ``{"type", "timestamp", "data": payload}``.
    Precondition: as ``delivery_enqueue``, inside the transaction of the change.
    """
    envelope = _envelope(event_type, payload, at)
    return [
        delivery_enqueue(
            client=client,
            kind=WebhookDelivery.Kind.WEBHOOK,
            event_type=event_type,
            url=endpoint.url,
            payload=envelope,
            dedupe_key=f"{dedupe_key}:{endpoint.id}",
            endpoint=endpoint,
            is_test=is_test,
        )
        for endpoint in subscribed_endpoints(client_id=client.id, event_type=event_type)
    ]


def endpoint_events_enqueue_many(
    *, client_id, event_type: str, items: list[tuple[str, dict]], is_test: bool = False
) -> int:
    """``endpoint_event_enqueue`` for many events of one type at once (a batch cancel): ``items``
    are ``(dedupe_key, payload)``. Rows are inserted in bulk, a key already present is skipped, and
    no wake-up is sent: the rows are left undispatched, so the dispatcher (every 5 s) sends them.
    Precondition: inside the transaction of the change. Returns how many rows were offered."""
    endpoints = subscribed_endpoints(client_id=client_id, event_type=event_type)
    if not endpoints or not items:
        return 0
    now = timezone.now()
    rows = [
        WebhookDelivery(
            client_id=client_id,
            endpoint=endpoint,
            kind=WebhookDelivery.Kind.WEBHOOK,
            event_type=event_type,
            url=endpoint.url,
            payload=_envelope(event_type, payload, now),
            dedupe_key=f"{dedupe_key}:{endpoint.id}",
            message_id=new_message_id(),
            is_test=is_test,
            next_attempt_at=now,
            created_at=now,
        )
        for dedupe_key, payload in items
        for endpoint in endpoints
    ]
    WebhookDelivery.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    return len(rows)


def wake_worker(delivery_id: uuid.UUID) -> None:
    """Send a worker the wake-up for one outbox row (a hint: the dispatcher relays lost ones).
    Queued by name: ``core.tasks`` imports this module."""
    try:
        current_app.send_task("core.tasks.deliver", args=[str(delivery_id)])
    except Exception:
        # The broker is unreachable: mark the row undispatched, so the dispatcher's next run (every
        # 5 s, once the broker is back) sends it rather than waiting out QUORUM_WEBHOOK_REDISPATCH_SECONDS.
        WebhookDelivery.objects.filter(id=delivery_id, status=WebhookDelivery.Status.PENDING).update(
            dispatched_at=None
        )
        raise


# -- selectors ------------------------------------------------------------------------------------


def _dispatch_again_after() -> timedelta:
    """A dispatched wake-up not consumed within this long (lost with a broker restart) is sent again."""
    return timedelta(seconds=settings.QUORUM_WEBHOOK_REDISPATCH_SECONDS)


DISPATCH_SQL = """
WITH due AS (
    SELECT id FROM clients_webhookdelivery
     WHERE status = 'pending' AND next_attempt_at <= %(now)s
       AND (dispatched_at IS NULL OR dispatched_at < %(stale)s)
     ORDER BY next_attempt_at
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
)
UPDATE clients_webhookdelivery d SET dispatched_at = %(now)s FROM due WHERE d.id = due.id RETURNING d.id
"""


@transaction.atomic
def deliveries_dispatch(*, limit: int = 500) -> list[uuid.UUID]:
    """Mark due deliveries as dispatched and return their ids, for the dispatcher to wake a worker
    for each. A row whose wake-up was sent less than ``QUORUM_WEBHOOK_REDISPATCH_SECONDS`` (60) ago
    and not consumed yet (an attempt clears ``dispatched_at``) is left alone, so a slow queue is not
    flooded with duplicates; after that it is sent again, which is the relay for a wake-up lost in
    the broker."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(DISPATCH_SQL, {"now": now, "stale": now - _dispatch_again_after(), "limit": limit})
        return [row[0] for row in cursor.fetchall()]


# -- one attempt ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    delivery_id: uuid.UUID
    attempt: int  # the value of ``attempts`` this claim set: the fencing token for the record step
    attempt_row_id: int  # the DeliveryAttempt row written at the claim, filled in by the record step
    endpoint_id: uuid.UUID | None
    url: str
    body: bytes
    headers: dict[str, str]


def delivery_attempt(*, delivery_id: uuid.UUID | str) -> WebhookDelivery | None:
    """Make one delivery attempt if the delivery is pending and due; otherwise do nothing.

    Safe to run twice or concurrently: only the worker that claims the due attempt sends.
    Call it outside any transaction (it opens two short ones around the HTTP call; inside an
    outer transaction the row lock would be held for the whole request). Returns the delivery
    as it is afterwards, or None if it does not exist.
    """
    claim = _delivery_claim(delivery_id=delivery_id)
    if claim is not None:
        result = outbound.post_json(claim.url, claim.body, claim.headers)
        _delivery_record(claim=claim, result=result)
    return WebhookDelivery.objects.filter(id=delivery_id).first()


def retry_delay_seconds(
    *, attempt: int, status_code: int | None, retry_after_seconds: int | None
) -> float | None:
    """Seconds until the attempt after failed attempt number ``attempt`` (1-based), or None when
    the schedule is exhausted. ±10 % jitter; a 429/503 ``Retry-After`` is a lower bound."""
    schedule = settings.QUORUM_WEBHOOK_RETRY_SCHEDULE
    if attempt < 1 or attempt > len(schedule):
        return None
    delay = schedule[attempt - 1] * random.uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)
    if status_code in RETRY_AFTER_STATUSES and retry_after_seconds is not None:
        delay = max(delay, float(min(retry_after_seconds, MAX_RETRY_AFTER_SECONDS)))
    return delay


@transaction.atomic
def _delivery_claim(*, delivery_id: uuid.UUID | str) -> _Claim | None:
    """Lock the row (skipping it if another worker holds it), and if it is pending and due, take
    a lease on this attempt. Returns what to send, or None."""
    now = timezone.now()
    delivery = (
        WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("client", "endpoint")
        .filter(id=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
        .first()
    )
    if delivery is None:
        return None
    # Due again while an attempt is in flight: that attempt's worker died (its lease ran out).
    DeliveryAttempt.objects.filter(delivery_id=delivery.id, error=IN_FLIGHT).update(error=LOST)
    max_attempts = len(settings.QUORUM_WEBHOOK_RETRY_SCHEDULE) + 1
    if delivery.attempts >= max_attempts:  # the last attempt's worker died before recording it
        _delivery_fail(delivery, reason="retry schedule exhausted")
        return None
    endpoint = delivery.endpoint
    if delivery.kind == WebhookDelivery.Kind.WEBHOOK and (endpoint is None or not endpoint.enabled):
        _delivery_fail(delivery, reason="endpoint disabled")
        return None

    is_callback = delivery.kind != WebhookDelivery.Kind.WEBHOOK  # a task's or a batch's callback_url
    secret = delivery.client.callback_signing_secret if is_callback else endpoint.secret
    body = message_body(delivery.payload)
    try:
        signed = sign_headers(secret=secret, message_id=delivery.message_id, timestamp=now, body=body)
    except (EmptyWebhookSecretError, ValueError):  # no secret, or not base64: it will never sign
        _delivery_fail(delivery, reason="the signing secret is missing or invalid")
        return None
    headers = {"content-type": "application/json", "user-agent": USER_AGENT, **signed}
    if is_callback:
        headers["scale-callback-auth"] = delivery.client.callback_auth_key

    lease = timedelta(seconds=float(settings.QUORUM_OUTBOUND_TIMEOUT_SECONDS) + LEASE_MARGIN_SECONDS)
    WebhookDelivery.objects.filter(id=delivery.id).update(
        attempts=F("attempts") + 1, next_attempt_at=now + lease, last_attempt_at=now, dispatched_at=None
    )
    row = DeliveryAttempt.objects.create(delivery_id=delivery.id, attempted_at=now, error=IN_FLIGHT)
    return _Claim(
        delivery_id=delivery.id,
        attempt=delivery.attempts + 1,  # the row is locked: this is the value just written
        attempt_row_id=row.id,
        endpoint_id=delivery.endpoint_id,
        url=delivery.url,
        body=body,
        headers=headers,
    )


@transaction.atomic
def _delivery_record(*, claim: _Claim, result: outbound.OutboundResult) -> None:
    """Log the attempt and move the delivery on. Only the claim that set ``attempts`` may move
    it, so a worker that overran its lease cannot overwrite a newer attempt's outcome."""
    now = timezone.now()
    status_code = result.status_code
    error = result.error
    if status_code is not None and 300 <= status_code < 400:
        error = f"redirects are not followed ({status_code})"
    DeliveryAttempt.objects.filter(id=claim.attempt_row_id).update(
        status_code=status_code,
        error=error[:500],
        duration_ms=result.duration_ms,
        response_excerpt=result.response_excerpt[:500],
    )
    changes: dict[str, Any] = {"last_status_code": status_code, "last_error": error[:500]}
    if result.ok:
        changes.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=now)
    elif status_code == 410 or error.startswith("invalid_url"):
        changes.update(status=WebhookDelivery.Status.FAILED)
    else:
        delay = retry_delay_seconds(
            attempt=claim.attempt, status_code=status_code, retry_after_seconds=result.retry_after_seconds
        )
        if delay is None:
            changes.update(status=WebhookDelivery.Status.FAILED)
        else:
            changes.update(next_attempt_at=now + timedelta(seconds=delay))
    moved = WebhookDelivery.objects.filter(
        id=claim.delivery_id, status=WebhookDelivery.Status.PENDING, attempts=claim.attempt
    ).update(**changes)
    if not moved:
        logger.warning(
            "delivery %s attempt %s finished after its lease; outcome logged only",
            claim.delivery_id,
            claim.attempt,
        )
        return
    if status_code == 410 and claim.endpoint_id is not None:
        WebhookEndpoint.objects.filter(id=claim.endpoint_id, enabled=True).update(
            enabled=False,
            disabled_reason=f"The endpoint answered 410 Gone at {now:%Y-%m-%d %H:%M:%S} UTC.",
        )


def _delivery_fail(delivery: WebhookDelivery, *, reason: str) -> None:
    """Precondition: ``delivery`` is locked by the caller's transaction."""
    WebhookDelivery.objects.filter(id=delivery.id, status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.FAILED, last_error=reason
    )
