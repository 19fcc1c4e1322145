"""The event log: every state change writes a row (actor, kind, before, after) in its transaction;
and the catalogue of the events a client's webhook endpoints can subscribe to.

Every subscribable event is delivered to each enabled endpoint subscribed to it (an empty
``events`` list: every event) through the outbox (``core.webhooks.endpoint_event_enqueue``),
once per endpoint per event: the fan-out is written in the transaction of the change, except for
events written by the SQL functions (``quorum_submit`` completes tasks): those rows are marked
``relay_pending`` by the database and the endpoint relay (``annotation.lifecycle.notify``) fans
them out after commit, or from the beat if that wake-up was lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from core.models import Event
from core.pgcopy import copy_rows

# What a client can subscribe to, and what the portal and README say about each. The one list:
# the portal's endpoint form, the endpoint validation and the fan-outs read it.
WEBHOOK_EVENTS: dict[str, str] = {
    "task.completed": "A task is completed: its response is final (again after a rework round).",
    "task.audited": "A client audit (accept or reject) of a completed task was recorded.",
    "task.canceled": "A pending task was canceled (on its own or with its batch).",
    "batch.completed": "Every task of a finalized batch is completed, canceled or in error.",
    "export.ready": "An export file is ready to download.",
    "export.failed": "An export job failed.",
}

# Events written by the SQL functions (``quorum_event``) that the endpoint relay fans out.
RELAYED_EVENTS = ("task.completed",)


def actor_label(actor: Any) -> str:
    """A stable text for who acted: ``apikey:<prefix>``, ``user:<id>`` or ``system``."""
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    api_key = getattr(actor, "api_key", None)
    if api_key is not None:
        return f"apikey:{api_key.prefix}"
    return f"user:{actor.pk}"


def record(
    *, actor: Any, entity: Any, kind: str, before: Any = None, after: Any = None, client_id=None
) -> Event:
    return Event.objects.create(
        actor=actor_label(actor),
        entity_type=type(entity).__name__.lower(),
        entity_id=entity.pk,
        kind=kind,
        before=before,
        after=after,
        client_id=client_id if client_id is not None else getattr(entity, "client_id", None),
    )


def build(
    *, actor: Any, entity_type: str, entity_id, kind: str, client_id=None, before=None, after=None
) -> Event:
    """An unsaved event, for ``bulk_create`` in bulk operations."""
    return Event(
        actor=actor_label(actor),
        entity_type=entity_type,
        entity_id=entity_id,
        kind=kind,
        client_id=client_id,
        before=before,
        after=after,
    )


def record_many(
    *, actor: Any, entity_type: str, entity_ids: Iterable, kind: str, client_id=None, at=None
) -> int:
    """One event per id (no before/after), written with COPY: for bulk operations (a bulk import
    records ``task.created`` for each of up to 10,000 tasks). Returns how many were written."""
    return copy_rows(
        Event,
        varying=("entity_id",),
        rows=((entity_id,) for entity_id in entity_ids),
        common={
            "created_at": at or timezone.now(),
            "client_id": client_id,
            "actor": actor_label(actor),
            "entity_type": entity_type,
            "kind": kind,
            "before": None,
            "after": None,
        },
    )
