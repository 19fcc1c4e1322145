"""Billing writes: rate cards, spend limits, and every posting rule of the ledger.

Other apps call these (annotation calls billing; billing never calls annotation), passing what
billing needs to know about the work as plain values. Every money movement goes through
``billing.ledger.post`` with an idempotency key derived from the business event, so a retried
Celery task, a re-run of a service or a double click posts once. Writes are keyword-only and
atomic; each records an audit event. Invoices live in ``billing/invoices.py``.

Posting rules (debit positive; docs/architecture.md "Money"):

==================  ======================================  ==================================
event               debit                                   credit
==================  ======================================  ==================================
task completed      client_receivable (price)               platform_revenue
answer accepted     labor_cost, or platform_cost for gold   annotator_payable (pay)
                    and rework
answer rejected     (reversal of its pay, if it was paid)
refund              platform_revenue                        client_receivable
top-up              cash                                    client_funds
funds applied       client_funds                            client_receivable
payment received    cash                                    client_receivable
payout              annotator_payable                       cash
reversal            the mirror image of the original
==================  ======================================  ==================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from billing import ledger
from billing.models import Account, ClientCredit, LedgerTransaction, Payout, ProjectBudget, RateCard
from clients.models import Client
from core import events
from core.errors import Conflict, NotFound, ValidationFailed

MAX_AMOUNT = 10**12  # minor units; far above any real figure, well inside bigint


def _amount(value: Any, *, field: str, allow_zero: bool = False) -> int:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or value < 0
        or value > MAX_AMOUNT
        or (value == 0 and not allow_zero)
    ):
        low = "0" if allow_zero else "1"
        raise ValidationFailed(
            f"{field}: must be an integer from {low} to {MAX_AMOUNT} (minor units)",
            code="invalid_amount",
            details={"field": field},
        )
    return value


# --- rate cards and margins ------------------------------------------------------------------------


@dataclass(frozen=True)
class Margin:
    """What the platform keeps of one task's price after paying ``answers`` answers."""

    price: int
    pay: int
    answers: int

    @property
    def cost(self) -> int:
        return self.pay * self.answers

    @property
    def kept(self) -> int:
        return self.price - self.cost

    @property
    def percent(self) -> int | None:
        """The margin in whole percent of the price, rounded down; None for a free task."""
        return None if self.price == 0 else (self.kept * 100) // self.price


def margin_check(
    *, price: int, pay: int, answers: int, field: str = "price_per_task", source: str = ""
) -> Margin:
    """Refuse a price per task that pays annotators more than the client is charged
    (``price_below_pay``: price < pay × answers) or leaves less than ``QUORUM_MIN_MARGIN`` percent
    of the price (``margin_below_minimum``). A task that costs and pays nothing passes. ``answers``
    is the most answers one task may be paid for (a project's max overlap); ``source`` says where
    the figures came from, for the message."""
    margin = Margin(price=price, pay=pay, answers=answers)
    minimum = settings.QUORUM_MIN_MARGIN
    details = {
        "field": field,
        "price_per_task": price,
        "pay_per_answer": pay,
        "answers": answers,
        "margin_percent": margin.percent,
        "min_margin_percent": minimum,
    }
    noun = "answer" if answers == 1 else "answers"
    figures = f"price per task {price}, pay per answer {pay} × {answers} {noun} = {margin.cost}{source}"
    if margin.kept < 0:
        raise ValidationFailed(
            f"{field}: the price must cover the annotators' pay ({figures}); "
            "raise the price or lower the pay or the overlap",
            code="price_below_pay",
            details=details,
        )
    if price > 0 and margin.kept * 100 < minimum * price:
        raise ValidationFailed(
            f"{field}: the margin would be {margin.percent}%, below the platform's minimum of "
            f"{minimum}% ({figures})",
            code="margin_below_minimum",
            details=details,
        )
    return margin


@transaction.atomic
def rate_card_set(
    *,
    task_type: str,
    currency: str,
    price_per_task: int,
    pay_per_answer: int,
    client: Client | None = None,
    effective_from: datetime | None = None,
    actor: Any = None,
) -> RateCard:
    """Add a version of the rate card for a task type (default, or one client's). Earlier versions
    stay: tasks created before ``effective_from`` keep the figures they were created with."""
    _amount(price_per_task, field="price_per_task", allow_zero=True)
    _amount(pay_per_answer, field="pay_per_answer", allow_zero=True)
    margin_check(price=price_per_task, pay=pay_per_answer, answers=1, source=" for one answer")
    if (
        not isinstance(currency, str)
        or len(currency) != 3
        or not currency.isalpha()
        or not currency.isupper()
    ):
        raise ValidationFailed(
            "currency: must be an ISO 4217 code such as USD",
            code="invalid_currency",
            details={"field": "currency"},
        )
    if client is not None and client.currency != currency:
        raise ValidationFailed(
            f"currency: this client is billed in {client.currency}",
            code="currency_mismatch",
            details={"field": "currency"},
        )
    card = RateCard.objects.create(
        task_type=task_type,
        client=client,
        currency=currency,
        price_per_task=price_per_task,
        pay_per_answer=pay_per_answer,
        effective_from=effective_from or timezone.now(),
        created_by=events.actor_label(actor)[:120],
    )
    events.record(
        actor=actor,
        entity=card,
        kind="rate_card.created",
        client_id=client.id if client else None,
        after={
            "task_type": task_type,
            "price_per_task": price_per_task,
            "pay_per_answer": pay_per_answer,
            "currency": currency,
            "effective_from": card.effective_from.isoformat(),
        },
    )
    return card


# --- spend limits: client credit and project budgets -----------------------------------------------

# One statement per counter: create the row on first use, else move it only if the room is there.
# ``ON CONFLICT … DO UPDATE … WHERE`` locks the row and re-checks on its current version, so two
# claims racing for the last of a budget cannot both pass: no row comes back for the loser.
RESERVE_CLIENT_SQL = """
INSERT INTO billing_clientcredit AS c (client_id, credit_limit, committed, received, updated_at)
VALUES (%(client_id)s, NULL, %(amount)s, 0, %(now)s)
ON CONFLICT (client_id) DO UPDATE
   SET committed = c.committed + EXCLUDED.committed, updated_at = EXCLUDED.updated_at
 WHERE c.credit_limit IS NULL OR c.committed + EXCLUDED.committed <= c.received + c.credit_limit
RETURNING 1
"""

RESERVE_PROJECT_SQL = """
INSERT INTO billing_projectbudget AS b (project_id, client_id, "limit", committed, updated_at)
VALUES (%(project_id)s, %(client_id)s, NULL, %(amount)s, %(now)s)
ON CONFLICT (project_id) DO UPDATE
   SET committed = b.committed + EXCLUDED.committed, updated_at = EXCLUDED.updated_at
 WHERE b."limit" IS NULL OR b.committed + EXCLUDED.committed <= b."limit"
RETURNING 1
"""


def spend_reserve(*, client_id, project_id, amount: int) -> bool:
    """Commit ``amount`` of spend for a task being started: True if both the project's budget and
    the client's funds plus credit had room (both counters moved), else False and neither moved.

    Lock order: project budget row, then client credit row (the same everywhere). Precondition:
    inside the caller's transaction (the claim), which holds both row locks until it commits."""
    if amount <= 0:
        return True
    params = {"client_id": client_id, "project_id": project_id, "amount": amount, "now": timezone.now()}
    with connection.cursor() as cursor:
        cursor.execute(RESERVE_PROJECT_SQL, params)
        if cursor.fetchone() is None:
            return False
        cursor.execute(RESERVE_CLIENT_SQL, params)
        if cursor.fetchone() is not None:
            return True
        cursor.execute(
            "UPDATE billing_projectbudget SET committed = committed - %s WHERE project_id = %s",
            [amount, project_id],
        )
        return False


def spend_release(*, client_id, project_id, amount: int) -> None:
    """Give back the commitment of a started task that will never be charged (it was canceled)."""
    if amount <= 0:
        return
    now = timezone.now()
    ProjectBudget.objects.filter(project_id=project_id).update(
        committed=F("committed") - amount, updated_at=now
    )
    ClientCredit.objects.filter(client_id=client_id).update(committed=F("committed") - amount, updated_at=now)


def _credit_row(client: Client) -> ClientCredit:
    ClientCredit.objects.get_or_create(client=client)
    return ClientCredit.objects.select_for_update().get(client=client)


def _credit_received(client: Client, amount: int) -> None:
    """Money came in for the client (top-up, payment, refund): more room under the credit limit."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO billing_clientcredit AS c (client_id, credit_limit, committed, received, "
            "updated_at) VALUES (%s, NULL, 0, %s, %s) ON CONFLICT (client_id) DO UPDATE SET received = "
            "c.received + EXCLUDED.received, updated_at = EXCLUDED.updated_at",
            [client.id, amount, now],
        )


@transaction.atomic
def credit_limit_set(*, client: Client, credit_limit: int | None, actor: Any = None) -> ClientCredit:
    """Set how far a client may spend beyond the money received (NULL: no limit)."""
    if credit_limit is not None:
        _amount(credit_limit, field="credit_limit", allow_zero=True)
    row = _credit_row(client)
    before = row.credit_limit
    row.credit_limit, row.updated_at = credit_limit, timezone.now()
    row.save(update_fields=["credit_limit", "updated_at"])
    events.record(
        actor=actor,
        entity=row,
        kind="client.credit_limit_set",
        client_id=client.id,
        before={"credit_limit": before},
        after={"credit_limit": credit_limit},
    )
    return row


@transaction.atomic
def project_budget_set(*, client: Client, project_id, limit: int | None, actor: Any = None) -> ProjectBudget:
    """Set a project's budget (NULL: none). Precondition: the caller checked that the project
    belongs to ``client`` (annotation's service does)."""
    if limit is not None:
        _amount(limit, field="budget", allow_zero=True)
    ProjectBudget.objects.get_or_create(project_id=project_id, defaults={"client": client})
    row = ProjectBudget.objects.select_for_update().get(project_id=project_id)
    if row.client_id != client.id:
        raise NotFound("Project not found.")
    before = row.limit
    row.limit, row.updated_at = limit, timezone.now()
    row.save(update_fields=["limit", "updated_at"])
    events.build(
        actor=actor,
        entity_type="project",
        entity_id=project_id,
        kind="project.budget_set",
        client_id=client.id,
        before={"budget": before},
        after={"budget": limit},
    ).save()
    return row


# --- postings from the work ------------------------------------------------------------------------


@dataclass(frozen=True)
class Work:
    """What billing needs to know about a task to post for it."""

    task_id: Any
    project_id: Any
    project_name: str
    task_type: str

    def dims(self, user_id=None) -> ledger.Dimensions:
        return ledger.Dimensions(
            project_id=self.project_id,
            project_name=self.project_name,
            task_type=self.task_type,
            user_id=user_id,
        )


def charge_task_completion(
    *, client: Client, task_id, amount: int, work: Work | None = None
) -> LedgerTransaction | None:
    """Charge a client for one completed live task: debit its receivable, credit platform revenue.

    Idempotent on the task: the key is ``task:<id>:charge``. A zero price posts nothing (a ledger
    entry is never zero) and returns None. Runs inside the caller's transaction when there is one.
    The spend was already committed when the task was first claimed, so no counter moves here.
    """
    if amount <= 0:
        return None
    return _post_charge(client=client, task_id=task_id, amount=amount, work=work)


@transaction.atomic(savepoint=False)
def _post_charge(*, client: Client, task_id, amount: int, work: Work | None) -> LedgerTransaction:
    receivable = ledger.AccountRef(Account.Kind.CLIENT_RECEIVABLE, client.currency, client_id=client.id)
    revenue = ledger.AccountRef(Account.Kind.PLATFORM_REVENUE, client.currency)
    ltx, _ = ledger.post(
        idempotency_key=f"task:{task_id}:charge",
        kind=LedgerTransaction.Kind.TASK_CHARGE,
        client_id=client.id,
        reference=f"task:{task_id}",
        description="Completed task",
        legs=[ledger.Leg(receivable, amount), ledger.Leg(revenue, -amount)],
        dims=work.dims() if work else ledger.NO_DIMENSIONS,
    )
    return ltx


@transaction.atomic(savepoint=False)
def answer_pay(
    *, submission_id, user_id, client: Client, amount: int, work: Work, platform_cost: bool = False
) -> LedgerTransaction | None:
    """Credit an annotator's payable for one accepted answer (key ``submission:<id>:pay``).

    ``platform_cost``: the client is not billed for this work (a gold task, rework after a client
    rejection), so the pay is the platform's cost rather than cost of revenue."""
    if amount <= 0:
        return None
    cost = ledger.AccountRef(
        Account.Kind.PLATFORM_COST if platform_cost else Account.Kind.LABOR_COST, client.currency
    )
    payable = ledger.AccountRef(Account.Kind.ANNOTATOR_PAYABLE, client.currency, user_id=user_id)
    ltx, _ = ledger.post(
        idempotency_key=f"submission:{submission_id}:pay",
        kind=LedgerTransaction.Kind.ANSWER_PAY,
        client_id=client.id,
        reference=f"submission:{submission_id}",
        description="Accepted answer",
        dims=work.dims(user_id),
        legs=[ledger.Leg(cost, amount), ledger.Leg(payable, -amount)],
    )
    return ltx


@transaction.atomic(savepoint=False)
def answer_unpay(*, submission_id) -> LedgerTransaction | None:
    """An accepted answer was rejected afterwards (review): reverse its pay, once. If the annotator
    was already paid out more than remains payable, the reversal would overdraw the payable; the
    ``account_no_overdraft`` rule refuses that and the caller must recover it another way."""
    try:
        original = LedgerTransaction.objects.get(idempotency_key=f"submission:{submission_id}:pay")
    except LedgerTransaction.DoesNotExist:
        return None
    payable = original.entries.get(account__kind=Account.Kind.ANNOTATOR_PAYABLE).account
    locked = Account.objects.select_for_update().get(pk=payable.pk)
    amount = -original.entries.get(account=payable).amount
    if -locked.balance < amount and not LedgerTransaction.objects.filter(reverses=original).exists():
        raise Conflict(
            "The annotator was already paid out this answer's pay; it cannot be taken back from the payable.",
            code="payable_insufficient",
        )
    ltx, _ = ledger.reverse(
        original=original,
        idempotency_key=f"submission:{submission_id}:pay:reversal",
        description="Rejected answer",
    )
    return ltx


# --- money in and out ------------------------------------------------------------------------------


@transaction.atomic
def task_refund(
    *, client: Client, task_id, amount: int, reason: str, key: str, actor: Any = None
) -> LedgerTransaction:
    """Credit a client for a charged task (all or part of its price). The sum of a task's refunds
    never passes its charge; ``key`` makes a retried refund post once."""
    _amount(amount, field="amount")
    try:
        charge = LedgerTransaction.objects.select_for_update().get(
            idempotency_key=f"task:{task_id}:charge", client=client
        )
    except LedgerTransaction.DoesNotExist as exc:
        raise NotFound("No charge for this task.", code="charge_not_found") from exc
    existing = LedgerTransaction.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    charged = charge.entries.get(account__kind=Account.Kind.CLIENT_RECEIVABLE).amount
    refunded = sum(
        -e.amount
        for e in ledger.LedgerEntry.objects.filter(
            transaction__kind=LedgerTransaction.Kind.REFUND,
            transaction__reference=f"task:{task_id}",
            account__kind=Account.Kind.CLIENT_RECEIVABLE,
        )
    )
    if refunded + amount > charged:
        raise ValidationFailed(
            f"amount: at most {charged - refunded} of this task's charge is left to refund",
            code="refund_exceeds_charge",
            details={"field": "amount"},
        )
    receivable = ledger.account_get(
        kind=Account.Kind.CLIENT_RECEIVABLE, currency=client.currency, client_id=client.id
    )
    revenue = ledger.account_get(kind=Account.Kind.PLATFORM_REVENUE, currency=client.currency)
    ltx, _ = ledger.post(
        idempotency_key=key,
        kind=LedgerTransaction.Kind.REFUND,
        client_id=client.id,
        reference=f"task:{task_id}",
        description=reason[:300] or "Refund",
        legs=[ledger.Leg(revenue, amount), ledger.Leg(receivable, -amount)],
        dims=ledger.Dimensions(
            project_id=charge.project_id, project_name=charge.project_name, task_type=charge.task_type
        ),
    )
    _credit_received(client, amount)
    events.record(
        actor=actor,
        entity=ltx,
        kind="billing.refund",
        client_id=client.id,
        after={"task": str(task_id), "amount": amount},
    )
    return ltx


def topup_record(
    *, client: Client, amount: int, reference: str, key: str, actor: Any = None
) -> LedgerTransaction:
    """Staff record money a client deposited in advance: it becomes client funds."""
    return _money_in(
        client=client,
        amount=amount,
        reference=reference,
        key=key,
        actor=actor,
        kind=LedgerTransaction.Kind.TOPUP,
        into=Account.Kind.CLIENT_FUNDS,
        description="Top-up",
        event="billing.topup",
    )


def payment_record(
    *, client: Client, amount: int, reference: str, key: str, actor: Any = None
) -> LedgerTransaction:
    """Staff record a payment received against what the client owes (e.g. a bank transfer for an invoice)."""
    return _money_in(
        client=client,
        amount=amount,
        reference=reference,
        key=key,
        actor=actor,
        kind=LedgerTransaction.Kind.PAYMENT,
        into=Account.Kind.CLIENT_RECEIVABLE,
        description="Payment received",
        event="billing.payment",
    )


@transaction.atomic
def _money_in(
    *,
    client: Client,
    amount: int,
    reference: str,
    key: str,
    actor: Any,
    kind: str,
    into: str,
    description: str,
    event: str,
) -> LedgerTransaction:
    """Cash came in from a client, credited to ``into`` (its funds or its receivable); more room
    under its credit limit. Posted once per ``key``."""
    _amount(amount, field="amount")
    cash = ledger.account_get(kind=Account.Kind.CASH, currency=client.currency)
    credited = ledger.account_get(kind=into, currency=client.currency, client_id=client.id)
    ltx, created = ledger.post(
        idempotency_key=key,
        kind=kind,
        client_id=client.id,
        reference=reference[:200],
        description=description,
        legs=[ledger.Leg(cash, amount), ledger.Leg(credited, -amount)],
    )
    if created:
        _credit_received(client, amount)
        events.record(actor=actor, entity=ltx, kind=event, client_id=client.id, after={"amount": amount})
    return ltx


@transaction.atomic
def funds_apply(
    *, client: Client, amount: int, reference: str, key: str, actor: Any = None
) -> LedgerTransaction | None:
    """Settle part of what the client owes from its funds: at most the funds there are, and at
    most what it owes now (funds are not turned into credit on the receivable)."""
    existing = LedgerTransaction.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    funds = ledger.account_lock(kind=Account.Kind.CLIENT_FUNDS, currency=client.currency, client_id=client.id)
    receivable = ledger.account_get(
        kind=Account.Kind.CLIENT_RECEIVABLE, currency=client.currency, client_id=client.id
    )
    amount = min(amount, -funds.balance, ledger.balance(receivable))
    if amount <= 0:
        return None
    ltx, created = ledger.post(
        idempotency_key=key,
        kind=LedgerTransaction.Kind.FUNDS_APPLIED,
        client_id=client.id,
        reference=reference[:200],
        description="Paid from funds",
        legs=[ledger.Leg(funds, amount), ledger.Leg(receivable, -amount)],
    )
    if created:
        events.record(
            actor=actor,
            entity=ltx,
            kind="billing.funds_applied",
            client_id=client.id,
            after={"amount": amount},
        )
    return ltx


def payout_minimum() -> int:
    return int(settings.QUORUM_PAYOUT_MINIMUM)


@transaction.atomic
def payout_create(
    *,
    user_id,
    currency: str,
    amount: int | None = None,
    key: str,
    period_start=None,
    period_end=None,
    actor: Any = None,
) -> Payout:
    """Pay an annotator out of their payable: all of it (``amount=None``) or a part.

    The payable account row is locked first, so concurrent payout requests serialize and each sees
    the balance the previous one left: none can take the payable below zero (and the
    ``account_no_overdraft`` CHECK would refuse it if one tried). A retried request with the same
    ``key`` returns the first payout."""
    existing = Payout.objects.filter(transaction__idempotency_key=key).first()
    if existing is not None:
        return existing
    payable = ledger.account_lock(kind=Account.Kind.ANNOTATOR_PAYABLE, currency=currency, user_id=user_id)
    available = -payable.balance
    if amount is None:
        amount = available
    elif not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValidationFailed(
            "amount: must be a positive integer (minor units)",
            code="invalid_amount",
            details={"field": "amount"},
        )
    minimum = payout_minimum()
    if amount > available:
        raise Conflict(
            f"Only {available} is payable; a payout of {amount} would overdraw it.",
            code="insufficient_balance",
        )
    if amount < max(minimum, 1):
        raise ValidationFailed(
            f"amount: payouts start at {max(minimum, 1)} (the payable is {available})",
            code="below_payout_minimum",
            details={"field": "amount"},
        )
    cash = ledger.account_get(kind=Account.Kind.CASH, currency=currency)
    ltx, _ = ledger.post(
        idempotency_key=key,
        kind=LedgerTransaction.Kind.PAYOUT,
        reference=f"user:{user_id}",
        description="Payout",
        legs=[ledger.Leg(payable, amount), ledger.Leg(cash, -amount)],
        dims=ledger.Dimensions(user_id=user_id),
    )
    payout = Payout.objects.create(
        user_id=user_id,
        currency=currency,
        amount=amount,
        period_start=period_start,
        period_end=period_end,
        transaction=ltx,
    )
    events.record(
        actor=actor,
        entity=payout,
        kind="billing.payout",
        client_id=None,
        after={"amount": amount, "currency": currency},
    )
    return payout


def payouts_run(*, period_start=None, period_end=None, actor: Any = "system:payouts") -> list[Payout]:
    """Pay out every annotator whose payable has reached the minimum (the beat job; idempotent per
    period: the key is ``payout:<user>:<currency>:<period_end>``)."""
    due = Account.objects.filter(
        kind=Account.Kind.ANNOTATOR_PAYABLE, balance__lte=-max(payout_minimum(), 1)
    ).order_by("id")
    tag = period_end.isoformat() if period_end else timezone.now().date().isoformat()
    made = []
    for account in due.values("user_id", "currency"):
        try:
            made.append(
                payout_create(
                    user_id=account["user_id"],
                    currency=account["currency"],
                    key=f"payout:{account['user_id']}:{account['currency']}:{tag}",
                    period_start=period_start,
                    period_end=period_end,
                    actor=actor,
                )
            )
        except (Conflict, ValidationFailed):
            continue  # the balance moved under us (e.g. a manual payout): next run
    return made
