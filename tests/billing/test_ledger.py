"""The ledger: balanced, append-only (enforced by PostgreSQL), idempotent."""

import threading

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from billing import ledger, services
from billing.models import Account, LedgerEntry, LedgerTransaction
from core.errors import ValidationFailed


def _accounts(client):
    receivable = ledger.account_get(kind=Account.Kind.CLIENT_RECEIVABLE, currency="USD", client_id=client.id)
    revenue = ledger.account_get(kind=Account.Kind.PLATFORM_REVENUE, currency="USD")
    return receivable, revenue


@pytest.mark.django_db
def test_charge_is_balanced_and_idempotent(client_a):
    first = services.charge_task_completion(client=client_a, task_id="t-1", amount=40)
    second = services.charge_task_completion(client=client_a, task_id="t-1", amount=40)
    assert first.pk == second.pk
    receivable, revenue = _accounts(client_a)
    assert (ledger.balance(receivable), ledger.balance(revenue)) == (40, -40)
    assert LedgerTransaction.objects.count() == 1
    assert LedgerEntry.objects.count() == 2


@pytest.mark.django_db
def test_zero_price_posts_nothing(client_a):
    assert services.charge_task_completion(client=client_a, task_id="t-0", amount=0) is None
    assert LedgerTransaction.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("amounts", [[10, -9], [10], [0, 0], [10.5, -10.5]])
def test_unbalanced_or_bad_amounts_are_refused_in_python(client_a, amounts):
    receivable, revenue = _accounts(client_a)
    legs = [ledger.Leg(acc, amt) for acc, amt in zip([receivable, revenue], amounts, strict=False)]
    with pytest.raises(ValidationFailed):
        ledger.post(idempotency_key="bad", kind="task_charge", legs=legs)
    assert LedgerTransaction.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("amounts", "message"),
    [((10, -9), "does not balance"), ((10,), "at least 2")],
    ids=["unbalanced", "one-entry"],
)
def test_postgres_refuses_a_bad_transaction_at_commit(client_a, amounts, message):
    """Written around ledger.post, straight to the tables: the database itself says no."""
    accounts = _accounts(client_a)
    with pytest.raises(IntegrityError, match=message):
        with transaction.atomic():
            ltx = LedgerTransaction.objects.create(idempotency_key="raw", kind="task_charge")
            for account, amount in zip(accounts, amounts, strict=False):
                LedgerEntry.objects.create(transaction=ltx, account=account, amount=amount, currency="USD")
    assert (LedgerTransaction.objects.count(), LedgerEntry.objects.count()) == (0, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE billing_ledgerentry SET amount = amount + 1",
        "DELETE FROM billing_ledgerentry",
        "UPDATE billing_ledgertransaction SET description = 'edited'",
        "DELETE FROM billing_ledgertransaction",
    ],
)
def test_update_or_delete_on_ledger_rows_fails_on_postgres(client_a, sql):
    services.charge_task_completion(client=client_a, task_id="t-9", amount=5)
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert sorted(LedgerEntry.objects.values_list("amount", flat=True)) == [-5, 5]
    assert LedgerTransaction.objects.get().description == "Completed task"


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_with_one_key_make_one_transaction(client_a):
    _accounts(client_a)  # create the accounts first, as production traffic would have
    barrier = threading.Barrier(12)
    errors = []

    def worker():
        try:
            barrier.wait()
            services.charge_task_completion(client=client_a, task_id="t-race", amount=7)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert LedgerTransaction.objects.count() == 1
    assert LedgerEntry.objects.count() == 2
