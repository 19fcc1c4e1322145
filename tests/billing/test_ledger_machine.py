"""docs/reliability.md (the ledger's rules): a model-based test of the ledger with hypothesis's state machine.

Random sequences of top-ups, completions (charges), acceptances (pay), rework (pay at the
platform's cost), rejections (pay reversed), refunds, payments, funds applied, payouts and
reversals run through the real services on PostgreSQL. After every step:

- each transaction's entries and the whole ledger sum to zero;
- cached balances equal the sums of entries;
- no payable or funds account is in debit (negative where that is not allowed);
- every balance equals what a plain-Python model of the same operations expects;
- the client's ``received`` counter equals the money credited to it;
- the client's invoice for the month (a draft, rebuilt) totals the charges less the refunds.

Each example posts in its own made-up currency, so the examples' platform accounts never mix.
"""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict

import pytest
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from billing import invoices, ledger
from billing import services as billing
from billing.models import Account, ClientCredit, LedgerEntry, LedgerTransaction
from clients.models import Client, User
from core.errors import Conflict, ValidationFailed

_currencies = (
    "".join(c) for c in itertools.product("QXZ", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
)
amounts = st.integers(min_value=1, max_value=50_000)


class LedgerMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.currency = next(_currencies)
        tag = uuid.uuid4().hex[:10]
        self.client = Client.objects.create(name=f"M {tag}", slug=f"m-{tag}", currency=self.currency)
        self.users = [User.objects.create(email=f"m{i}-{tag}@example.test", password="!") for i in range(2)]
        self.work = billing.Work(task_id=None, project_id=None, project_name="P", task_type="categorization")
        # The model: expected balances (debit positive) and bookkeeping of what may be undone.
        self.expected = defaultdict(int)  # (kind, owner) -> balance
        self.received = 0
        self.charges = {}  # task_id -> [charged, refunded]
        self.pays = {}  # submission_id -> (user index, amount, reversed)
        self.reversible = []  # (transaction id, legs as (kind, owner, amount)) of top-ups and payouts
        self.seq = itertools.count()
        self.month = timezone.now().date().replace(day=1)

    # --- helpers -----------------------------------------------------------------------------------

    def _move(self, *legs):
        for kind, owner, amount in legs:
            self.expected[(kind, owner)] += amount

    def _key(self, what: str) -> str:
        return f"{self.currency}:{what}:{next(self.seq)}"

    def _payable(self, i: int) -> int:
        return -self.expected[("annotator_payable", i)]

    # --- rules -------------------------------------------------------------------------------------

    @rule(amount=amounts)
    def top_up(self, amount):
        ltx = billing.topup_record(client=self.client, amount=amount, reference="", key=self._key("topup"))
        self._move(("cash", None, amount), ("client_funds", "c", -amount))
        self.received += amount
        self.reversible.append((ltx.pk, "topup", amount))

    @rule(amount=amounts)
    def complete_a_task(self, amount):
        task_id = uuid.uuid4()
        billing.charge_task_completion(client=self.client, task_id=task_id, amount=amount, work=self.work)
        self._move(("client_receivable", "c", amount), ("platform_revenue", None, -amount))
        self.charges[task_id] = [amount, 0]

    @rule(amount=amounts, who=st.integers(0, 1), rework=st.booleans())
    def accept_an_answer(self, amount, who, rework):
        submission_id = uuid.uuid4()
        billing.answer_pay(
            submission_id=submission_id,
            user_id=self.users[who].pk,
            client=self.client,
            amount=amount,
            work=self.work,
            platform_cost=rework,
        )
        self._move(
            ("platform_cost" if rework else "labor_cost", None, amount), ("annotator_payable", who, -amount)
        )
        self.pays[submission_id] = (who, amount, rework, False)

    @precondition(lambda self: any(not p[3] for p in self.pays.values()))
    @rule(data=st.data())
    def reject_an_answer(self, data):
        # Insertion order, not sorted ids: ids are random per run, so sorting them would make the
        # same draw pick another answer when hypothesis replays or shrinks (FlakyStrategyDefinition).
        submission_id = data.draw(st.sampled_from([k for k, p in self.pays.items() if not p[3]]))
        who, amount, rework, _ = self.pays[submission_id]
        try:
            with transaction.atomic():
                billing.answer_unpay(submission_id=submission_id)
        except Conflict:
            assert self._payable(who) < amount  # refused only when it would overdraw the payable
            return
        assert self._payable(who) >= amount
        self._move(
            ("platform_cost" if rework else "labor_cost", None, -amount), ("annotator_payable", who, amount)
        )
        self.pays[submission_id] = (who, amount, rework, True)

    @precondition(lambda self: self.charges)
    @rule(data=st.data(), amount=amounts)
    def refund(self, data, amount):
        task_id = data.draw(st.sampled_from(list(self.charges)))  # insertion order (see above)
        charged, refunded = self.charges[task_id]
        try:
            with transaction.atomic():
                billing.task_refund(
                    client=self.client, task_id=task_id, amount=amount, reason="", key=self._key("refund")
                )
        except ValidationFailed:
            assert refunded + amount > charged
            return
        assert refunded + amount <= charged
        self.charges[task_id][1] += amount
        self._move(("platform_revenue", None, amount), ("client_receivable", "c", -amount))
        self.received += amount

    @rule(amount=amounts)
    def payment(self, amount):
        billing.payment_record(client=self.client, amount=amount, reference="", key=self._key("payment"))
        self._move(("cash", None, amount), ("client_receivable", "c", -amount))
        self.received += amount

    @rule(amount=amounts)
    def apply_funds(self, amount):
        billing.funds_apply(client=self.client, amount=amount, reference="", key=self._key("funds"))
        applied = min(
            amount, -self.expected[("client_funds", "c")], self.expected[("client_receivable", "c")]
        )
        if applied > 0:
            self._move(("client_funds", "c", applied), ("client_receivable", "c", -applied))

    @rule(amount=st.one_of(st.none(), amounts), who=st.integers(0, 1))
    def payout(self, amount, who):
        available = self._payable(who)
        try:
            with transaction.atomic():
                payout = billing.payout_create(
                    user_id=self.users[who].pk, currency=self.currency, amount=amount, key=self._key("payout")
                )
        except (Conflict, ValidationFailed):
            assert (amount or available) > available or (amount or available) < max(
                billing.payout_minimum(), 1
            )
            return
        paid = available if amount is None else amount
        assert payout.amount == paid <= available
        self._move(("annotator_payable", who, paid), ("cash", None, -paid))
        self.reversible.append((payout.transaction_id, f"payout:{who}", paid))

    @precondition(lambda self: self.reversible)
    @rule(data=st.data())
    def reverse(self, data):
        ltx_id, what, amount = data.draw(st.sampled_from(self.reversible))
        self.reversible.remove((ltx_id, what, amount))
        original = LedgerTransaction.objects.get(pk=ltx_id)
        if what == "topup":
            if (
                -self.expected[("client_funds", "c")] < amount
            ):  # the funds were spent: a reversal would overdraw them
                return
            ledger.reverse(original=original, idempotency_key=self._key("reversal"))
            self._move(("cash", None, -amount), ("client_funds", "c", amount))
        else:  # a payout the provider returned: back into the payable
            who = int(what.split(":")[1])
            ledger.reverse(original=original, idempotency_key=self._key("reversal"))
            self._move(("annotator_payable", who, -amount), ("cash", None, amount))

    # --- invariants ----------------------------------------------------------------------------------

    @invariant()
    def every_transaction_and_the_whole_ledger_sum_to_zero(self):
        entries = LedgerEntry.objects.filter(currency=self.currency)
        unbalanced = entries.values("transaction_id").annotate(s=Sum("amount")).exclude(s=0)
        assert not unbalanced.exists()
        assert (entries.aggregate(s=Sum("amount"))["s"] or 0) == 0

    @invariant()
    def balances_match_entries_the_model_and_the_rules(self):
        owners = {"c": {"client": self.client}, None: {"client": None, "user": None}}
        owners.update({i: {"user": u} for i, u in enumerate(self.users)})
        for account in Account.objects.filter(currency=self.currency):
            total = LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or 0
            if account.kind in Account.CACHED_KINDS:
                assert account.balance == total, account
                assert account.balance <= 0, account  # never in debit
            owner = (
                "c" if account.client_id else (self.users.index(account.user) if account.user_id else None)
            )
            assert total == self.expected[(account.kind, owner)], (account.kind, owner)
        credit = ClientCredit.objects.filter(client=self.client).first()
        assert (credit.received if credit else 0) == self.received

    @invariant()
    def the_invoice_of_the_month_equals_the_ledger(self):
        today = timezone.now().date()
        if today.replace(day=1) != self.month:
            return  # the example crossed midnight at a month's end: its postings span two invoices
        invoice = invoices.invoice_generate(
            client=self.client, period_start=self.month
        )  # a draft: rebuilt each time
        charged = sum(c for c, _ in self.charges.values())
        refunded = sum(r for _, r in self.charges.values())
        assert (invoice.subtotal, invoice.refunds, invoice.total) == (charged, refunded, charged - refunded)
        assert sum(line.amount for line in invoice.lines.all()) == invoice.total


@pytest.mark.django_db
def test_the_ledger_keeps_its_invariants_under_any_sequence_of_operations():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
