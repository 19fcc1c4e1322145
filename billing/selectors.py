"""Reads of money, scoped to the caller's client (or, for staff reports, to the platform)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, Sum

from billing.models import Account, ClientCredit, LedgerEntry, Payout, ProjectBudget, RateCard
from clients.models import Client


@dataclass(frozen=True)
class Rate:
    price_per_task: int
    pay_per_answer: int
    currency: str
    card_id: object = None  # None: no card applies (both figures are 0)


def rate_for(*, client: Client, task_type: str, at: datetime) -> Rate:
    """The rate card in force at ``at`` for a task type: the client's own card if it has one, else
    the default card for the client's currency, else zero. (A project's override is applied by the
    caller, which owns projects.)"""
    card = (
        RateCard.objects.filter(task_type=task_type, currency=client.currency, effective_from__lte=at)
        .filter(Q(client=client) | Q(client__isnull=True))
        .order_by("client_id", "-effective_from")  # NULLS LAST on ascending: the client's card first
        .first()
    )
    if card is None:
        return Rate(0, 0, client.currency)
    return Rate(card.price_per_task, card.pay_per_answer, card.currency, card.pk)


def _sum(queryset) -> int:
    return queryset.aggregate(total=Sum("amount"))["total"] or 0


def client_balance(*, client: Client) -> dict:
    """The client's money position, in minor units of its currency.

    ``receivable``: what it owes for delivered work (charges less refunds and payments);
    ``funds``: money deposited and not yet applied; ``committed``: price of started live tasks
    (charged or reserved); ``available``: what it may still commit (funds and payments received
    plus credit, less committed; null when it has no credit limit).
    """
    entries = LedgerEntry.objects.filter(account__client=client)
    receivable = _sum(entries.filter(account__kind=Account.Kind.CLIENT_RECEIVABLE))
    funds = -_sum(entries.filter(account__kind=Account.Kind.CLIENT_FUNDS))
    credit = ClientCredit.objects.filter(client=client).first()
    committed = credit.committed if credit else 0
    received = credit.received if credit else 0
    limit = credit.credit_limit if credit else None
    return {
        "currency": client.currency,
        "receivable": receivable,
        "funds": funds,
        "committed": committed,
        "received": received,
        "credit_limit": limit,
        "available": None if limit is None else received + limit - committed,
    }


def project_budget(*, client: Client, project_id) -> dict:
    row = ProjectBudget.objects.filter(project_id=project_id, client=client).first()
    limit = row.limit if row else None
    committed = row.committed if row else 0
    return {
        "budget": limit,
        "committed": committed,
        "remaining": None if limit is None else max(limit - committed, 0),
    }


def payable_balance(*, user_id, currency: str) -> int:
    """What the platform owes an annotator (a positive figure), from the cached balance."""
    account = Account.objects.filter(
        kind=Account.Kind.ANNOTATOR_PAYABLE, user_id=user_id, currency=currency
    ).first()
    return -account.balance if account else 0


def payable_balances(*, user_id) -> dict[str, int]:
    """What the platform owes an annotator in each currency they have earned in (the workspace's
    earnings page)."""
    rows = Account.objects.filter(kind=Account.Kind.ANNOTATOR_PAYABLE, user_id=user_id).order_by("currency")
    return {row.currency: -row.balance for row in rows}


def payouts_for_user(*, user_id, limit: int = 100):
    """An annotator's payouts, newest first."""
    return Payout.objects.filter(user_id=user_id).order_by("-created_at")[:limit]


def client_project_budgets(*, client: Client) -> list[dict]:
    return [
        {"project_id": row.project_id, "budget": row.limit, "committed": row.committed}
        for row in ProjectBudget.objects.filter(client=client).order_by("project_id")
    ]


def payouts_between(*, start, end):
    """Payouts made in [start, end) (UTC days), oldest first, with their payee."""
    from datetime import UTC, datetime, time

    return (
        Payout.objects.filter(
            created_at__gte=datetime.combine(start, time(), UTC),
            created_at__lt=datetime.combine(end, time(), UTC),
        )
        .select_related("user")
        .order_by("created_at", "id")
    )
