"""The ledger engine: the only code that writes ledger rows.

``post(...)`` writes one balanced transaction, idempotently: the idempotency key is derived from
the business event (e.g. ``task:<id>:charge``), so a retried Celery task, a re-run of a service
or a double click posts once. PostgreSQL enforces the rest (append-only rows, balance at commit;
see migration 0003).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Sum

from billing.models import Account, LedgerEntry, LedgerTransaction
from clients.errors import ValidationFailed


@dataclass(frozen=True)
class Leg:
    account: Account
    amount: int  # minor units; positive = debit, negative = credit


def account_get(*, kind: str, currency: str, client_id=None, user_id=None) -> Account:
    """Fetch or create an account. Safe under concurrency (unique constraint + get_or_create retry)."""
    account, _ = Account.objects.get_or_create(kind=kind, client_id=client_id, user_id=user_id, currency=currency)
    return account


def _check_balanced(legs: Sequence[Leg]) -> None:
    if len(legs) < 2:
        raise ValidationFailed("A ledger transaction needs at least two entries.", code="ledger_unbalanced")
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        if not isinstance(leg.amount, int) or isinstance(leg.amount, bool) or leg.amount == 0:
            raise ValidationFailed("Ledger amounts are non-zero integers in minor units.", code="ledger_amount")
        totals[leg.account.currency] += leg.amount
    if any(totals.values()):
        raise ValidationFailed("Ledger entries must sum to zero per currency.", code="ledger_unbalanced")


INSERT_TRANSACTION_SQL = """
INSERT INTO billing_ledgertransaction (id, idempotency_key, kind, client_id, reference, description, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id
"""


def post(
    *, idempotency_key: str, kind: str, legs: Sequence[Leg], client_id=None, reference: str = "", description: str = ""
) -> tuple[LedgerTransaction, bool]:
    """Post a balanced transaction once. Returns ``(transaction, created)``.

    A second call with the same key returns the first transaction and writes nothing. The insert
    is ``ON CONFLICT DO NOTHING``: concurrent callers with one key serialize on the unique index
    (the second waits for the first to commit, then inserts nothing) without raising, so no
    savepoint is needed and the caller's transaction stays usable.
    """
    _check_balanced(legs)  # before the atomic block: a refusal leaves the caller's transaction usable
    return _insert(idempotency_key=idempotency_key, kind=kind, legs=legs, client_id=client_id, reference=reference, description=description)


@transaction.atomic(savepoint=False)
def _insert(*, idempotency_key: str, kind: str, legs: Sequence[Leg], client_id, reference: str, description: str) -> tuple[LedgerTransaction, bool]:
    ltx = LedgerTransaction(
        idempotency_key=idempotency_key, kind=kind, client_id=client_id, reference=reference, description=description
    )
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT_TRANSACTION_SQL,
            [ltx.id, idempotency_key, kind, client_id, reference, description, ltx.created_at],
        )
        inserted = cursor.fetchone() is not None
    if not inserted:
        return LedgerTransaction.objects.get(idempotency_key=idempotency_key), False
    LedgerEntry.objects.bulk_create(
        [LedgerEntry(transaction=ltx, account=leg.account, amount=leg.amount, currency=leg.account.currency) for leg in legs]
    )
    ltx._state.adding = False
    return ltx, True


def balance(account: Account) -> int:
    """The account's balance (debits positive) as the sum of its entries."""
    return LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"] or 0
