"""``Idempotency-Key`` for money endpoints (IETF draft-ietf-httpapi-idempotency-key-header-07,
Stripe's semantics; docs/reliability.md, "The rules" 5).

- A money endpoint without the header answers 400 ``idempotency_key_required``.
- Same key, same request (method, path, body) → the stored response, replayed with the header
  ``Idempotent-Replayed: true``; the money moved once.
- Same key, different request → 422 ``idempotency_key_reused``.
- While the first request with a key is still running → 409 ``idempotency_in_flight``.
- Keys are scoped per caller (``client:<id>`` for API keys and members, ``user:<id>`` for
  personal tokens), so one caller's key never replays another's response; they expire after
  ``QUORUM_IDEMPOTENCY_TTL_HOURS`` (24 h), after which the key starts a new operation.

How: one transaction per request. It takes a transaction-scoped advisory lock on (scope, key)
with ``pg_try_advisory_xact_lock`` — a second request that cannot get it is in flight (409) —
then looks for a stored record, runs the view, and stores the response in the same transaction
as the money it moved. A request that fails or crashes before commit stores nothing, so its
retry runs afresh: there is never a stored response without its ledger rows, or the reverse.
Only successful (2xx) responses are stored; an error moved no money, and retrying it is safe.
"""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from billing.models import IdempotencyRecord
from clients.auth import ClientPrincipal
from core.errors import Conflict, DomainError, ValidationFailed
from core.ids import uuid7

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class KeyReused(DomainError):
    status_code = 422
    code = "idempotency_key_reused"


def _scope(request) -> str:
    user = request.user
    if isinstance(user, ClientPrincipal):
        return f"client:{user.client.id}"
    return f"user:{user.pk}"


def _fingerprint(request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        body = repr(request.data)
    raw = f"{request.method}\n{request.path}\n{body}".encode()
    return hashlib.sha256(raw).hexdigest()


def read_key(request) -> str:
    key = request.headers.get(HEADER)
    if key is None or key == "":
        raise ValidationFailed(
            f"{HEADER}: this endpoint moves money; send a unique {HEADER} header (e.g. a UUID)",
            code="idempotency_key_required",
            details={"field": HEADER},
        )
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed(
            f"{HEADER}: at most {MAX_KEY_LENGTH} printable characters",
            code="invalid_idempotency_key",
            details={"field": HEADER},
        )
    return key


def idempotent(view_method=None, *, authorize=None):
    """Decorate a DRF view method that moves money. The view receives ``idempotency_key``, unique
    to this operation, to derive its ledger idempotency keys from.

    ``authorize(request)`` runs first, so that a caller who may not use the endpoint at all gets
    its 403, not a 400 about the header."""
    if view_method is None:
        return functools.partial(idempotent, authorize=authorize)

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        if authorize is not None:
            authorize(request)
        key = read_key(request)
        scope = _scope(request)
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", [f"idem\n{scope}\n{key}"]
                )
                if not cursor.fetchone()[0]:
                    raise Conflict(
                        "A request with this Idempotency-Key is still being processed; retry later.",
                        code="idempotency_in_flight",
                    )
            cutoff = timezone.now() - timedelta(hours=settings.QUORUM_IDEMPOTENCY_TTL_HOURS)
            IdempotencyRecord.objects.filter(
                scope=scope, key=key, created_at__lt=cutoff
            ).delete()  # expired: a new operation
            record = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
            if record is not None:
                if record.fingerprint != fingerprint:
                    raise KeyReused("This Idempotency-Key was used with a different request; use a new key.")
                replay = HttpResponse(record.body, status=record.status_code, content_type="application/json")
                replay["Idempotent-Replayed"] = "true"
                return replay
            # The ledger key names this operation: a key that expired and is used again starts a
            # new operation, which must not collide with the old one's ledger key.
            response = view_method(self, request, *args, idempotency_key=f"{scope}:{key}:{uuid7()}", **kwargs)
            if not 200 <= response.status_code < 300:
                return response
            # Rendered here, once, so that the original and every replay are the same bytes.
            body = JSONRenderer().render(response.data).decode()
            IdempotencyRecord.objects.create(
                scope=scope, key=key, fingerprint=fingerprint, status_code=response.status_code, body=body
            )
            return HttpResponse(body, status=response.status_code, content_type="application/json")

    return wrapper


def prune(*, older_than_hours: int | None = None) -> int:
    """Delete expired records (a beat job). Returns how many."""
    hours = settings.QUORUM_IDEMPOTENCY_TTL_HOURS if older_than_hours is None else older_than_hours
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - timedelta(hours=hours)
    ).delete()
    return deleted
