"""Billing's beat jobs. Thin: each calls one service; each is safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from billing import idempotency, invoices, services


@shared_task(acks_late=True)
def generate_monthly_invoices(period: str | None = None) -> int:
    """Draft last month's invoice of every client with charges or refunds in it (``period``
    ``"YYYY-MM"`` picks another month). Idempotent: a draft is rebuilt, an issued one untouched."""
    start = invoices.month_start(period) if period else invoices.previous_month(timezone.now().date())
    return invoices.invoices_generate_for_period(period_start=start)


@shared_task(acks_late=True)
def run_payouts() -> int:
    """Pay out every annotator whose payable reached the minimum (keys per day: a rerun pays none twice)."""
    return len(services.payouts_run())


@shared_task
def prune_idempotency_keys() -> int:
    return idempotency.prune()
