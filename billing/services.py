"""Billing services called by other apps (annotation calls these; billing never calls annotation)."""

from __future__ import annotations

from django.db import transaction

from billing import ledger
from billing.models import Account, LedgerTransaction
from clients.models import Client


def charge_task_completion(*, client: Client, task_id, amount: int) -> LedgerTransaction | None:
    """Charge a client for one completed live task: debit its receivable, credit platform revenue.

    Idempotent on the task: the key is ``task:<id>:charge``. A zero price posts nothing (a ledger
    entry is never zero) and returns None. Runs inside the caller's transaction when there is one.
    """
    if amount <= 0:
        return None
    return _post_charge(client=client, task_id=task_id, amount=amount)


@transaction.atomic(savepoint=False)
def _post_charge(*, client: Client, task_id, amount: int) -> LedgerTransaction:
    receivable = ledger.account_get(kind=Account.Kind.CLIENT_RECEIVABLE, currency=client.currency, client_id=client.id)
    revenue = ledger.account_get(kind=Account.Kind.PLATFORM_REVENUE, currency=client.currency)
    ltx, _ = ledger.post(
        idempotency_key=f"task:{task_id}:charge",
        kind=LedgerTransaction.Kind.TASK_CHARGE,
        client_id=client.id,
        reference=f"task:{task_id}",
        description="Completed task",
        legs=[ledger.Leg(receivable, amount), ledger.Leg(revenue, -amount)],
    )
    return ltx
