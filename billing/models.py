"""MONEY: the double-entry ledger (accounts, transactions, entries).

Amounts are signed integers in minor units: positive = debit, negative = credit. Every
transaction's entries sum to zero per currency, and ledger rows are never updated or deleted —
PostgreSQL itself refuses both (triggers in migration 0003); corrections are reversing
transactions. Balances are sums of entries. Only ``billing/ledger.py`` writes these tables.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from clients.ids import uuid7
from clients.models import Client


class Account(models.Model):
    class Kind(models.TextChoices):
        CLIENT_RECEIVABLE = "client_receivable"  # what a client owes for delivered work (debit-normal)
        CLIENT_FUNDS = "client_funds"  # prepaid money held for a client (credit-normal)
        ANNOTATOR_PAYABLE = "annotator_payable"  # what the platform owes an annotator (credit-normal)
        PLATFORM_REVENUE = "platform_revenue"  # (credit-normal)
        PLATFORM_COST = "platform_cost"  # gold tasks, rework (debit-normal)
        CASH = "cash"  # money actually received or paid out (debit-normal)

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "client", "user", "currency"], name="account_identity_uniq", nulls_distinct=False
            )
        ]

    def __str__(self) -> str:
        owner = self.client_id or self.user_id or "platform"
        return f"{self.kind}:{owner}:{self.currency}"


class LedgerTransaction(models.Model):
    class Kind(models.TextChoices):
        TASK_CHARGE = "task_charge"
        REVERSAL = "reversal"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=200, blank=True)  # e.g. "task:<uuid>"
    description = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["client", "created_at"], name="ledgertx_client_idx")]


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
