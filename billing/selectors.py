"""Reads of money, scoped to the caller's client."""

from __future__ import annotations

from django.db.models import Sum

from billing.models import Account, LedgerEntry
from clients.models import Client


def client_balance(*, client: Client) -> dict:
    """What the client owes for delivered work (receivable), in minor units of its currency."""
    owed = (
        LedgerEntry.objects.filter(account__kind=Account.Kind.CLIENT_RECEIVABLE, account__client=client).aggregate(
            total=Sum("amount")
        )["total"]
        or 0
    )
    return {"currency": client.currency, "receivable": owed}
