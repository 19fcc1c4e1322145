"""Monthly invoices, built from the ledger (docs/architecture.md "Money", issue 4 item 4).

An invoice is a document about ledger rows, never a source of money: its lines are the client's
receivable entries of the period, grouped by project and task type, and its totals are their sums.

- ``invoice_generate`` builds the month's invoice of a client, or rebuilds it while it is a draft
  (its lines are replaced, never appended). An issued, paid or void invoice is never changed. One
  live (non-void) invoice per client and month: the ``invoice_one_per_period`` constraint, and an
  advisory lock on (client, month) so that two generators wait for each other instead of failing.
- ``invoice_issue`` (draft → issued) refreshes the lines from the ledger one last time and applies
  the client's available funds (``services.funds_apply``, key ``invoice:<id>:funds``).
- ``invoice_mark_paid`` (issued → paid) records what the funds did not cover as a payment
  (``services.payment_record``, key ``invoice:<id>:payment``).
- ``invoice_void`` (draft or issued → void) reverses the funds applied at issue, if any.

Periods are calendar months in UTC: ``[period_start, period_end)``, so an entry at 23:59:59 on the
last day belongs to that month and one at 00:00:00 on the 1st to the next. Numbers are
``Q-YYYYMM-NNNN``, allocated under a per-month advisory lock.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, time
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.utils import timezone

from billing import ledger, services
from billing.models import Account, Invoice, InvoiceLine, LedgerEntry, LedgerTransaction
from clients.models import Client
from core import events
from core.errors import Conflict, NotFound, ValidationFailed
from core.sqlrows import dict_rows

logger = logging.getLogger(__name__)

# One aggregate over the client's receivable entries of the period. A reversal counts with the
# kind of the transaction it reverses (a reversed charge takes the charge back, quantity -1).
# ``t.client_id`` is redundant with the account (every posting to a client's receivable carries
# the client) but lets PostgreSQL start from the client's transactions of the month
# (``ledgertx_client_idx``) rather than from every client's.
LINES_SQL = """
SELECT t.project_id,
       max(t.project_name) AS project_name,
       t.task_type,
       CASE WHEN coalesce(o.kind, t.kind) = 'refund' THEN 'refund' ELSE 'charge' END AS line_kind,
       sum(CASE WHEN t.kind = 'reversal' THEN -1 ELSE 1 END)::int AS quantity,
       sum(e.amount)::bigint AS amount
  FROM billing_ledgerentry e
  JOIN billing_ledgertransaction t ON t.id = e.transaction_id
  LEFT JOIN billing_ledgertransaction o ON o.id = t.reverses_id
 WHERE e.account_id = %(account)s
   AND t.client_id = %(client)s AND t.created_at >= %(start)s AND t.created_at < %(end)s
   AND (t.kind IN ('task_charge', 'refund') OR (t.kind = 'reversal' AND o.kind IN ('task_charge', 'refund')))
 GROUP BY t.project_id, t.task_type, line_kind
 ORDER BY max(t.project_name), t.project_id, t.task_type, line_kind
"""

# Clients whose receivable moved by a charge or a refund in the period: the ones to invoice.
ACTIVE_CLIENTS_SQL = """
SELECT DISTINCT client_id FROM billing_ledgertransaction
 WHERE created_at >= %(start)s AND created_at < %(end)s AND client_id IS NOT NULL
   AND kind IN ('task_charge', 'refund')
 ORDER BY client_id
"""


# --- periods ---------------------------------------------------------------------------------------


def month_start(value: Any, *, field: str = "period") -> date:
    """The first day of a month, from a ``date`` on the 1st or a ``"YYYY-MM"`` string."""
    if isinstance(value, str):
        try:
            if not re.fullmatch(r"\d{4}-\d{2}", value):
                raise ValueError(value)
            return datetime.strptime(value, "%Y-%m").date()
        except ValueError as exc:
            raise ValidationFailed(
                f"{field}: expected a month as YYYY-MM, e.g. 2026-10",
                code="invalid_period",
                details={"field": field},
            ) from exc
    if isinstance(value, datetime) or not isinstance(value, date) or value.day != 1:
        raise ValidationFailed(
            "period_start: must be the first day of a month",
            code="invalid_period",
            details={"field": "period_start"},
        )
    return value


def next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def previous_month(day: date) -> date:
    first = day.replace(day=1)
    return date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)


def utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


# --- reads -----------------------------------------------------------------------------------------


def _receivable(client: Client) -> Account:
    return ledger.account_get(
        kind=Account.Kind.CLIENT_RECEIVABLE, currency=client.currency, client_id=client.id
    )


def ledger_lines(*, client: Client, period_start: date, period_end: date) -> list[dict]:
    """The invoice lines the ledger holds for a client and period (one query)."""
    params = {
        "account": _receivable(client).pk,
        "client": client.pk,
        "start": utc_midnight(period_start),
        "end": utc_midnight(period_end),
    }
    # Money that becomes an invoice: always the primary's ledger, never a replica's.
    return dict_rows(LINES_SQL, params, using=DEFAULT_DB_ALIAS)


def _settlement(invoice: Invoice, suffix: str) -> int:
    """What the invoice's funds (``funds``) or payment (``payment``) transaction credited to the
    receivable, less its reversal: a positive figure, 0 when there is none."""
    ltx = LedgerTransaction.objects.filter(idempotency_key=f"invoice:{invoice.pk}:{suffix}").first()
    if ltx is None:
        return 0
    entries = LedgerEntry.objects.filter(account__kind=Account.Kind.CLIENT_RECEIVABLE)
    credited = -sum(entries.filter(transaction=ltx).values_list("amount", flat=True))
    reversed_ = sum(entries.filter(transaction__reverses=ltx).values_list("amount", flat=True))
    return credited - reversed_


def invoice_settlement(invoice: Invoice) -> dict:
    """Funds applied at issue, payment recorded when paid, and what is still due."""
    funds = _settlement(invoice, "funds")
    paid = _settlement(invoice, "payment")
    due = (
        0
        if invoice.status in (Invoice.Status.DRAFT, Invoice.Status.VOID)
        else max(invoice.total - funds - paid, 0)
    )
    return {"funds_applied": funds, "payment": paid, "amount_due": due}


def invoice_get_for_client(*, client: Client, invoice_id) -> Invoice:
    """A client's invoice; another client's (or no) invoice is 404."""
    try:
        return Invoice.objects.get(pk=invoice_id, client=client)
    except (Invoice.DoesNotExist, ValueError, ValidationError) as exc:
        raise NotFound("Invoice not found.") from exc


def invoice_get(*, invoice_id) -> Invoice:
    try:
        return Invoice.objects.select_related("client").get(pk=invoice_id)
    except (Invoice.DoesNotExist, ValueError, ValidationError) as exc:
        raise NotFound("Invoice not found.") from exc


# --- writes ----------------------------------------------------------------------------------------


def _advisory_lock(text: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [text])


def _next_number(period_start: date) -> str:
    """``Q-YYYYMM-NNNN``: one more than the month's highest. Precondition: the caller holds the
    month's numbering lock until commit, so no two invoices get one number."""
    prefix = f"Q-{period_start:%Y%m}-"
    _advisory_lock(f"invoice-number:{prefix}")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(max(substring(number FROM %s)::int), 0) FROM billing_invoice WHERE number LIKE "
            "%s",
            [len(prefix) + 1, prefix + "%"],
        )
        seq = cursor.fetchone()[0] + 1
    return f"{prefix}{seq:04d}"


def _fill(invoice: Invoice, lines: list[dict], *, new: bool = False) -> None:
    """Replace the invoice's lines and totals with ``lines`` (a draft only)."""
    if not new:
        InvoiceLine.objects.filter(invoice=invoice).delete()
    InvoiceLine.objects.bulk_create(
        [
            InvoiceLine(
                invoice=invoice,
                project_id=row["project_id"],
                project_name=row["project_name"] or "",
                task_type=row["task_type"] or "",
                kind=row["line_kind"],
                quantity=row["quantity"],
                amount=row["amount"],
            )
            for row in lines
        ]
    )
    invoice.subtotal = sum(row["amount"] for row in lines if row["line_kind"] == "charge")
    invoice.refunds = -sum(row["amount"] for row in lines if row["line_kind"] == "refund")
    invoice.total = invoice.subtotal - invoice.refunds
    invoice.save(update_fields=["subtotal", "refunds", "total"])


def _totals(invoice: Invoice) -> dict:
    return {
        "subtotal": invoice.subtotal,
        "refunds": invoice.refunds,
        "total": invoice.total,
        "status": invoice.status,
    }


@transaction.atomic
def invoice_generate(*, client: Client, period_start: date, actor: Any = None) -> Invoice:
    """Build the client's invoice for the month starting ``period_start``, or rebuild it while it
    is a draft. An issued or paid invoice is returned unchanged. Running it twice leaves the same
    invoice (same id, number and lines)."""
    period_start = month_start(period_start)
    period_end = next_month(period_start)
    _advisory_lock(f"invoice:{client.pk}:{period_start:%Y-%m}")
    invoice = (
        Invoice.objects.select_for_update()
        .exclude(status=Invoice.Status.VOID)
        .filter(client=client, period_start=period_start)
        .first()
    )
    if invoice is not None and invoice.status != Invoice.Status.DRAFT:
        return invoice
    lines = ledger_lines(client=client, period_start=period_start, period_end=period_end)
    if invoice is None:
        invoice = Invoice.objects.create(
            client=client,
            number=_next_number(period_start),
            period_start=period_start,
            period_end=period_end,
            currency=client.currency,
        )
        before, kind = None, "invoice.generated"
    else:
        before, kind = _totals(invoice), "invoice.regenerated"
    _fill(invoice, lines, new=before is None)
    events.record(
        actor=actor,
        entity=invoice,
        kind=kind,
        client_id=client.id,
        before=before,
        after={**_totals(invoice), "number": invoice.number, "lines": len(lines)},
    )
    return invoice


def invoices_generate_for_period(*, period_start: date, actor: Any = "system:invoices") -> int:
    """Generate (or refresh the drafts of) the month's invoices of every client with charges or
    refunds in it, one transaction per client. Returns how many clients were processed."""
    period_start = month_start(period_start)
    params = {"start": utc_midnight(period_start), "end": utc_midnight(next_month(period_start))}
    with connection.cursor() as cursor:
        cursor.execute(ACTIVE_CLIENTS_SQL, params)
        client_ids = [row[0] for row in cursor.fetchall()]
    done = 0
    for start in range(0, len(client_ids), 500):
        for client in Client.objects.filter(pk__in=client_ids[start : start + 500]).order_by("pk"):
            try:
                invoice_generate(client=client, period_start=period_start, actor=actor)
            except (
                Exception
            ):  # one client's failure must not hold back the others' invoices; the next run retries
                logger.exception("invoice generation failed for client %s, %s", client.pk, period_start)
                continue
            done += 1
    return done


def _locked(invoice_id) -> Invoice:
    try:
        return Invoice.objects.select_for_update(of=("self",)).select_related("client").get(pk=invoice_id)
    except (Invoice.DoesNotExist, ValueError, ValidationError) as exc:
        raise NotFound("Invoice not found.") from exc


def _refuse(invoice: Invoice, action: str, allowed: tuple[str, ...]) -> None:
    if invoice.status not in allowed:
        raise Conflict(
            f"Invoice {invoice.number} is {invoice.status}; only {' or '.join(allowed)} invoices can be "
            f"{action}.",
            code="invoice_status",
            details={"status": invoice.status, "allowed": list(allowed)},
        )


@transaction.atomic
def invoice_issue(*, invoice_id, actor: Any = None) -> Invoice:
    """Draft → issued, once its month is over: the lines are rebuilt from the ledger, then the
    client's available funds are applied to the total."""
    invoice = _locked(invoice_id)
    _refuse(invoice, "issued", (Invoice.Status.DRAFT,))
    if utc_midnight(invoice.period_end) > timezone.now():
        raise Conflict(
            f"Invoice {invoice.number} covers a month that has not ended (it ends {invoice.period_end}).",
            code="invoice_period_open",
            details={"period_end": invoice.period_end.isoformat()},
        )
    _fill(
        invoice,
        ledger_lines(client=invoice.client, period_start=invoice.period_start, period_end=invoice.period_end),
    )
    Invoice.objects.filter(pk=invoice.pk, status=Invoice.Status.DRAFT).update(
        status=Invoice.Status.ISSUED, issued_at=timezone.now()
    )
    invoice.refresh_from_db()
    if invoice.total > 0:
        services.funds_apply(
            client=invoice.client,
            amount=invoice.total,
            reference=f"invoice:{invoice.number}",
            key=f"invoice:{invoice.pk}:funds",
            actor=actor,
        )
    events.record(
        actor=actor,
        entity=invoice,
        kind="invoice.issued",
        client_id=invoice.client_id,
        before={"status": Invoice.Status.DRAFT},
        after={**_totals(invoice), "funds_applied": invoice_settlement(invoice)["funds_applied"]},
    )
    return invoice


@transaction.atomic
def invoice_mark_paid(*, invoice_id, reference: str = "", actor: Any = None) -> Invoice:
    """Issued → paid: what the funds applied at issue did not cover is recorded as a payment."""
    invoice = _locked(invoice_id)
    _refuse(invoice, "marked paid", (Invoice.Status.ISSUED,))
    due = invoice_settlement(invoice)["amount_due"]
    if due > 0:
        services.payment_record(
            client=invoice.client,
            amount=due,
            reference=(reference or f"invoice:{invoice.number}")[:200],
            key=f"invoice:{invoice.pk}:payment",
            actor=actor,
        )
    Invoice.objects.filter(pk=invoice.pk, status=Invoice.Status.ISSUED).update(
        status=Invoice.Status.PAID, paid_at=timezone.now()
    )
    invoice.refresh_from_db()
    events.record(
        actor=actor,
        entity=invoice,
        kind="invoice.paid",
        client_id=invoice.client_id,
        before={"status": Invoice.Status.ISSUED},
        after={"status": invoice.status, "payment": due},
    )
    return invoice


@transaction.atomic
def invoice_void(*, invoice_id, reason: str = "", actor: Any = None) -> Invoice:
    """Draft or issued → void. Funds applied at issue go back to the client's funds (a reversal);
    the charges stay owed, and a new invoice may be generated for the month."""
    invoice = _locked(invoice_id)
    _refuse(invoice, "voided", (Invoice.Status.DRAFT, Invoice.Status.ISSUED))
    before = invoice.status
    applied = LedgerTransaction.objects.filter(idempotency_key=f"invoice:{invoice.pk}:funds").first()
    returned = 0
    if applied is not None:
        # The funds row is locked first, as every funds movement does (one lock order).
        ledger.account_lock(
            kind=Account.Kind.CLIENT_FUNDS, currency=invoice.currency, client_id=invoice.client_id
        )
        returned = invoice_settlement(invoice)["funds_applied"]
        ledger.reverse(
            original=applied,
            idempotency_key=f"invoice:{invoice.pk}:funds:reversal",
            description=f"Invoice {invoice.number} voided",
        )
    Invoice.objects.filter(pk=invoice.pk, status=before).update(
        status=Invoice.Status.VOID, voided_at=timezone.now()
    )
    invoice.refresh_from_db()
    events.record(
        actor=actor,
        entity=invoice,
        kind="invoice.voided",
        client_id=invoice.client_id,
        before={"status": before},
        after={"status": invoice.status, "funds_returned": returned, "reason": reason[:300]},
    )
    return invoice


# --- money as text ---------------------------------------------------------------------------------

# ISO 4217 minor-unit exponents that are not 2 (the common case).
EXPONENTS = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}


def money_format(amount: int, currency: str) -> str:
    """``123456, "USD"`` → ``"1,234.56 USD"``; ``-5, "JPY"`` → ``"-5 JPY"``. Integer arithmetic only."""
    exponent = EXPONENTS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**exponent)
    text = f"{whole:,}" + (f".{fraction:0{exponent}d}" if exponent else "")
    return f"{sign}{text} {currency}"
