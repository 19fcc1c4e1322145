"""MONEY: rate cards, the double-entry ledger, spend limits, invoices, payouts, idempotency.

Amounts are signed integers in minor units: positive = debit, negative = credit. Every
transaction's entries sum to zero per currency, and ledger rows are never updated or deleted —
PostgreSQL itself refuses both (triggers in migration 0003); corrections are reversing
transactions. Balances are sums of entries. Only ``billing/ledger.py`` writes these tables.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from clients.models import Client
from core.ids import uuid7


class Account(models.Model):
    class Kind(models.TextChoices):
        CLIENT_RECEIVABLE = "client_receivable"  # what a client owes for delivered work (debit-normal)
        CLIENT_FUNDS = "client_funds"  # prepaid money held for a client (credit-normal)
        ANNOTATOR_PAYABLE = "annotator_payable"  # what the platform owes an annotator (credit-normal)
        PLATFORM_REVENUE = "platform_revenue"  # (credit-normal)
        LABOR_COST = "labor_cost"  # pay for billable accepted answers (debit-normal, cost of revenue)
        PLATFORM_COST = "platform_cost"  # pay the client is not billed for: gold tasks, rework (debit-normal)
        CASH = "cash"  # money actually received or paid out (debit-normal)

    # Accounts whose balance is also cached on the row (``balance``), because a rule needs it under a
    # row lock: an annotator's payable (a payout never takes it below zero) and a client's funds.
    # Platform-wide accounts are not cached: a cached balance there would be one hot row that every
    # completion in the marketplace had to lock.
    CACHED_KINDS = ("annotator_payable", "client_funds")

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    currency = models.CharField(max_length=3)
    # Signed sum of this account's entries (debit positive), kept only for CACHED_KINDS; both are
    # credit-normal, so the CHECK below is "never a debit balance" — the database refuses an
    # overdraft even if the service's own check were wrong.
    balance = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "client", "user", "currency"],
                name="account_identity_uniq",
                nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=~models.Q(kind__in=["annotator_payable", "client_funds"])
                | models.Q(balance__lte=0),
                name="account_no_overdraft",
            ),
        ]

    def __str__(self) -> str:
        owner = self.client_id or self.user_id or "platform"
        return f"{self.kind}:{owner}:{self.currency}"


class LedgerTransaction(models.Model):
    class Kind(models.TextChoices):
        TASK_CHARGE = "task_charge"  # Dr client_receivable, Cr platform_revenue
        ANSWER_PAY = "answer_pay"  # Dr labor_cost (or platform_cost), Cr annotator_payable
        REFUND = "refund"  # Dr platform_revenue, Cr client_receivable
        TOPUP = "topup"  # Dr cash, Cr client_funds
        FUNDS_APPLIED = "funds_applied"  # Dr client_funds, Cr client_receivable (an invoice paid from funds)
        PAYMENT = "payment"  # Dr cash, Cr client_receivable (an invoice paid by transfer)
        PAYOUT = "payout"  # Dr annotator_payable, Cr cash
        REVERSAL = "reversal"  # the mirror image of an earlier transaction

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=200, blank=True)  # e.g. "task:<uuid>"
    description = models.CharField(max_length=300, blank=True)
    # Dimensions for invoices and reports, copied from the business event when it is posted (billing
    # does not read annotation's tables): the project (id and name at the time), the task type and
    # the annotator. Plain columns, not foreign keys: the ledger outlives what it describes.
    project_id = models.UUIDField(null=True, blank=True)
    project_name = models.CharField(max_length=200, blank=True)
    task_type = models.CharField(max_length=40, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["client", "created_at"], name="ledgertx_client_idx"),
            models.Index(fields=["created_at"], name="ledgertx_created_idx"),
        ]


class LedgerEntry(models.Model):
    id = models.BigAutoField(primary_key=True)
    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["account", "created_at"], name="ledgerentry_account_idx")]
        constraints = [models.CheckConstraint(condition=~models.Q(amount=0), name="ledgerentry_nonzero")]


class RateCard(models.Model):
    """What a task of a type costs the client and pays each annotator, in minor units.

    Versioned by ``effective_from``: a change is a new row, and work uses the card in force when it
    was created (the task snapshots both figures). Scope, most specific first: the project's own
    override (``annotation.Project.price_per_task`` / ``pay_per_answer``), the client's card, the
    default card (no client) for the client's currency.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    task_type = models.CharField(max_length=40)
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.CASCADE, related_name="rate_cards"
    )
    currency = models.CharField(max_length=3)
    price_per_task = models.BigIntegerField()
    pay_per_answer = models.BigIntegerField()
    effective_from = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(
                fields=["task_type", "currency", "client", "-effective_from"], name="ratecard_lookup_idx"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price_per_task__gte=0, pay_per_answer__gte=0), name="ratecard_nonneg"
            ),
        ]


class ClientCredit(models.Model):
    """The spend limit of one client: committed spend may not pass money received plus credit.

    ``committed`` = the price of every live task that has been started (claimed at least once) and
    not canceled: charged when complete, reserved while pending. ``received`` = top-ups, payments
    and refunds credited. Both are caches of events kept in step by the services that post them,
    updated with a guarded ``UPDATE … WHERE committed + price <= received + credit_limit`` so two
    claims can never both take the last of the room. ``credit_limit`` NULL = no limit (postpaid).
    """

    client = models.OneToOneField(Client, primary_key=True, on_delete=models.CASCADE, related_name="credit")
    credit_limit = models.BigIntegerField(null=True, blank=True)
    committed = models.BigIntegerField(default=0)
    received = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(committed__gte=0), name="clientcredit_committed_nonneg"
            ),
            models.CheckConstraint(
                condition=models.Q(credit_limit__isnull=True) | models.Q(credit_limit__gte=0),
                name="clientcredit_limit_nonneg",
            ),
        ]


class ProjectBudget(models.Model):
    """A project's budget: committed spend (as in ``ClientCredit``) never passes ``limit``."""

    project_id = models.UUIDField(primary_key=True)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    limit = models.BigIntegerField(null=True, blank=True)  # NULL = no budget
    committed = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(committed__gte=0), name="projectbudget_committed_nonneg"
            ),
            models.CheckConstraint(
                condition=models.Q(limit__isnull=True) | models.Q(limit__gte=0),
                name="projectbudget_limit_nonneg",
            ),
        ]


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        ISSUED = "issued"
        PAID = "paid"
        VOID = "void"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(max_length=40, unique=True)
    period_start = models.DateField()
    period_end = models.DateField()  # exclusive: the first day of the next month
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    subtotal = models.BigIntegerField(default=0)  # charges
    refunds = models.BigIntegerField(default=0)  # refunds in the period (a positive figure)
    total = models.BigIntegerField(default=0)  # subtotal - refunds
    created_at = models.DateTimeField(default=timezone.now)
    issued_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One live invoice per client and month; a void one may be replaced.
            models.UniqueConstraint(
                fields=["client", "period_start"],
                condition=~models.Q(status="void"),
                name="invoice_one_per_period",
            ),
        ]
        indexes = [models.Index(fields=["client", "-period_start"], name="invoice_client_idx")]


class InvoiceLine(models.Model):
    id = models.BigAutoField(primary_key=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    project_id = models.UUIDField(null=True, blank=True)
    project_name = models.CharField(max_length=200, blank=True)
    task_type = models.CharField(max_length=40, blank=True)
    kind = models.CharField(max_length=16)  # "charge" or "refund"
    quantity = models.IntegerField()
    amount = models.BigIntegerField()  # signed: refunds negative


class Payout(models.Model):
    class Status(models.TextChoices):
        PAID = "paid"  # the ledger moved payable to cash; the CSV goes to the payment provider
        REVERSED = "reversed"  # the provider returned it; a reversal put it back in payable

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts")
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PAID)
    transaction = models.OneToOneField(LedgerTransaction, on_delete=models.PROTECT, related_name="payout")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="payout_positive")]
        indexes = [models.Index(fields=["user", "-created_at"], name="payout_user_idx")]


class IdempotencyRecord(models.Model):
    """The stored outcome of a money request made with an ``Idempotency-Key`` (IETF draft -07).

    ``scope`` is the caller (``client:<id>`` or ``user:<id>``) so that one caller's key never
    replays another's response. Written in the same transaction as the money it moved: a request
    that crashed before commit left nothing, and its retry runs afresh.
    """

    id = models.BigAutoField(primary_key=True)
    scope = models.CharField(max_length=80)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.TextField()  # the rendered JSON, replayed byte for byte
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_uniq")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]
