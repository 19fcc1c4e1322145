"""Celery tasks for outbound messages. Thin: they take ids and call ``core.webhooks``.

Both are safe to run twice: ``delivery_attempt`` sends only when it claims a due attempt.
"""

from __future__ import annotations

from celery import shared_task

from core import webhooks


@shared_task(name="core.tasks.deliver", ignore_result=True)
def deliver(delivery_id: str) -> None:
    """Make one delivery attempt if the delivery is due (scheduled on commit, or by the dispatcher)."""
    webhooks.delivery_attempt(delivery_id=delivery_id)


@shared_task(name="core.tasks.dispatch_due_deliveries", ignore_result=True)
def dispatch_due_deliveries() -> int:
    """Beat, every 5 s: wake a worker for every due delivery. This is also the outbox relay: a
    wake-up lost in the broker is sent again from the row."""
    due = webhooks.deliveries_dispatch(limit=500)
    for delivery_id in due:
        deliver.delay(str(delivery_id))
    return len(due)
