"""The ledger engine: the only code that writes ledger rows.

``post(...)`` writes one balanced transaction, idempotently, in one statement
(``quorum_ledger_post`` in ``ledger.sql``: accounts created on first use, the transaction and its
entries inserted, cached balances moved): the idempotency key is derived from the business event
(e.g. ``task:<id>:charge``), so a retried Celery task, a re-run of a service or a double click
posts once. PostgreSQL enforces the rest (append-only rows, balance at commit; see migration 0003).
A leg names its account either as an ``Account`` row or as an ``AccountRef`` (kind, currency,
client, user), which costs no lookup.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection
from django.db.models import Sum
from psycopg.types.json import Jsonb

from billing.models import Account, LedgerEntry, LedgerTransaction
from core.errors import ValidationFailed


@dataclass(frozen=True)
class AccountRef:
    """An account by its identity; ``post`` finds or creates it in the same statement."""

    kind: str
    currency: str
    client_id: object = None
    user_id: object = None


@dataclass(frozen=True)
class Leg:
    account: Account | AccountRef
    amount: int  # minor units; positive = debit, negative = credit


def account_get(*, kind: str, currency: str, client_id=None, user_id=None) -> Account:
    """Fetch or create an account. Safe under concurrency (unique constraint + get_or_create retry)."""
    account, _ = Account.objects.get_or_create(
        kind=kind, client_id=client_id, user_id=user_id, currency=currency
    )
    return account


def _check_balanced(legs: Sequence[Leg]) -> None:
    if len(legs) < 2:
        raise ValidationFailed("A ledger transaction needs at least two entries.", code="ledger_unbalanced")
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        if not isinstance(leg.amount, int) or isinstance(leg.amount, bool) or leg.amount == 0:
            raise ValidationFailed(
                "Ledger amounts are non-zero integers in minor units.", code="ledger_amount"
            )
        totals[leg.account.currency] += leg.amount
    if any(totals.values()):
        raise ValidationFailed("Ledger entries must sum to zero per currency.", code="ledger_unbalanced")


POST_SQL = "SELECT tx_id, created FROM quorum_ledger_post(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"


@dataclass(frozen=True)
class Dimensions:
    """What a transaction is about, for invoices and reports (copied, never joined)."""

    project_id: object = None
    project_name: str = ""
    task_type: str = ""
    user_id: object = None


NO_DIMENSIONS = Dimensions()


def post(
    *,
    idempotency_key: str,
    kind: str,
    legs: Sequence[Leg],
    client_id=None,
    reference: str = "",
    description: str = "",
    dims: Dimensions = NO_DIMENSIONS,
    reverses: LedgerTransaction | None = None,
) -> tuple[LedgerTransaction, bool]:
    """Post a balanced transaction once. Returns ``(transaction, created)``.

    A second call with the same key returns the first transaction and writes nothing. The insert
    is ``ON CONFLICT DO NOTHING``: concurrent callers with one key serialize on the unique index
    (the second waits for the first to commit, then inserts nothing) without raising, so no
    savepoint is needed and the caller's transaction stays usable.

    Accounts of ``Account.CACHED_KINDS`` get their cached ``balance`` moved in the same
    transaction, in ascending account id order (one lock order everywhere: no deadlocks). The
    ``account_no_overdraft`` CHECK refuses a payable or funds account going into debit; services
    check first, under the account's row lock, so that a refusal is a clear error and not this.
    """
    _check_balanced(legs)  # before the atomic block: a refusal leaves the caller's transaction usable
    return _insert(
        idempotency_key=idempotency_key,
        kind=kind,
        legs=legs,
        client_id=client_id,
        reference=reference,
        description=description,
        dims=dims,
        reverses=reverses,
    )


def _leg_json(leg: Leg) -> dict:
    account = leg.account
    if isinstance(account, Account):
        return {"amount": leg.amount, "account": str(account.pk)}
    return {
        "amount": leg.amount,
        "kind": account.kind,
        "currency": account.currency,
        "client": str(account.client_id) if account.client_id else None,
        "user": str(account.user_id) if account.user_id else None,
    }


def _insert(
    *,
    idempotency_key: str,
    kind: str,
    legs: Sequence[Leg],
    client_id,
    reference: str,
    description: str,
    dims: Dimensions,
    reverses: LedgerTransaction | None,
) -> tuple[LedgerTransaction, bool]:
    now = LedgerTransaction._meta.get_field("created_at").get_default()  # timezone.now(); tests move it
    with connection.cursor() as cursor:
        cursor.execute(
            POST_SQL,
            [idempotency_key, kind, client_id, reference, description, dims.project_id,
             dims.project_name[:200], dims.task_type, dims.user_id, reverses.pk if reverses else None, now,
             Jsonb([_leg_json(leg) for leg in legs])],
        )  # fmt: skip
        tx_id, created = cursor.fetchone()
    if not created:
        return LedgerTransaction.objects.get(pk=tx_id), False
    ltx = LedgerTransaction(
        id=tx_id, idempotency_key=idempotency_key, kind=kind, client_id=client_id, reference=reference,
        description=description, project_id=dims.project_id, project_name=dims.project_name[:200],
        task_type=dims.task_type, user_id=dims.user_id, reverses=reverses, created_at=now,
    )  # fmt: skip
    ltx._state.adding = False
    return ltx, True


def reverse(
    *, original: LedgerTransaction, idempotency_key: str, description: str = ""
) -> tuple[LedgerTransaction, bool]:
    """Post the mirror image of ``original`` (every entry negated), linked to it. Idempotent by key;
    a transaction can be reversed once (``reverses`` is unique)."""
    legs = [
        Leg(entry.account, -entry.amount)
        for entry in original.entries.select_related("account").order_by("id")
    ]
    dims = Dimensions(
        project_id=original.project_id,
        project_name=original.project_name,
        task_type=original.task_type,
        user_id=original.user_id,
    )
    return post(
        idempotency_key=idempotency_key,
        kind=LedgerTransaction.Kind.REVERSAL,
        legs=legs,
        client_id=original.client_id,
        reference=original.reference,
        description=description or f"Reversal of {original.kind}",
        dims=dims,
        reverses=original,
    )


def account_lock(*, kind: str, currency: str, client_id=None, user_id=None) -> Account:
    """Fetch or create an account and lock its row until the end of the transaction."""
    account = account_get(kind=kind, currency=currency, client_id=client_id, user_id=user_id)
    return Account.objects.select_for_update().get(pk=account.pk)


def balance(account: Account) -> int:
    """The account's balance (debits positive) as the sum of its entries."""
    return LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"] or 0
