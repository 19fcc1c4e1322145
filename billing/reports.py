"""Revenue, margin, concentration and annotator pay: SQL aggregates over the ledger, integer money.

Definitions (minor units of one currency, months in UTC, ``[start, end)``):

- revenue = credits to ``platform_revenue`` (task charges) less its debits (refunds), reversals
  included: ``-sum(amount)`` of its entries;
- labor cost / platform cost = the debits to ``labor_cost`` / ``platform_cost`` (accepted answers'
  pay; less the pay of answers rejected afterwards);
- gross margin = revenue - labor cost - platform cost; ``margin_bp`` = margin / revenue in basis
  points, rounded to the nearest (half to even), None without revenue;
- concentration: each client's share of the period's revenue, over clients with positive revenue.
  The Herfindahl-Hirschman index is the sum of the squared shares in percent (0-10,000): three
  clients at 50/30/20 % give 2,500 + 900 + 400 = 3,800. Shares and the index are exact fractions
  (``"p/q"`` strings) with basis-point / integer roundings beside them; no floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction

from billing.invoices import month_start, next_month, previous_month, utc_midnight
from billing.models import Account
from core.errors import ValidationFailed
from core.sqlrows import dict_rows

MAX_MONTHS = 120


@dataclass(frozen=True)
class Period:
    """UTC days ``[start, end)``: whole months for the monthly reports (``period_parse``), any
    days for ``revenue_by_day``."""

    start: date
    end: date

    def bounds(self) -> tuple[datetime, datetime]:
        return utc_midnight(self.start), utc_midnight(self.end)

    def params(self, currency: str) -> dict:
        """Bounds and the platform accounts of ``currency``. The account ids go into the SQL as
        values: PostgreSQL then knows how many entries each has (half the ledger sits on a handful
        of platform accounts) and picks hash joins instead of a loop over every entry."""
        accounts = {kind: [] for kind in Account.Kind.values}
        for pk, kind in Account.objects.filter(
            currency=currency, client__isnull=True, user__isnull=True
        ).values_list("pk", "kind"):
            accounts[kind].append(pk)
        return {
            "start": utc_midnight(self.start),
            "end": utc_midnight(self.end),
            "currency": currency,
            "revenue": accounts[Account.Kind.PLATFORM_REVENUE],
            "cost": accounts[Account.Kind.LABOR_COST] + accounts[Account.Kind.PLATFORM_COST],
        }

    def as_dict(self) -> dict:
        return {"from": f"{self.start:%Y-%m}", "to": f"{previous_month(self.end):%Y-%m}"}


def period_parse(*, first: str | None, last: str | None) -> Period:
    """``from``/``to`` months as ``YYYY-MM``, both included."""
    if not first or not last:
        raise ValidationFailed(
            "from and to: both are required, as YYYY-MM (e.g. ?from=2026-01&to=2026-06)",
            code="invalid_period",
            details={"field": "from" if not first else "to"},
        )
    start, end = month_start(first, field="from"), next_month(month_start(last, field="to"))
    months = (end.year - start.year) * 12 + end.month - start.month
    if months < 1:
        raise ValidationFailed("to: must not be before from", code="invalid_period", details={"field": "to"})
    if months > MAX_MONTHS:
        raise ValidationFailed(
            f"from/to: at most {MAX_MONTHS} months", code="invalid_period", details={"field": "from"}
        )
    return Period(start, end)


def currency_parse(value: str | None) -> str:
    """A report's currency (default USD)."""
    currency = "USD" if value is None else value
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise ValidationFailed(
            "currency: an ISO 4217 code such as USD", code="invalid_currency", details={"field": "currency"}
        )
    return currency


def fraction_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def basis_points(part: int, whole: int) -> int | None:
    """``part / whole`` in basis points, rounded to the nearest (half to even)."""
    return None if whole == 0 else round(Fraction(part * 10_000, whole))


# --- revenue per client per month ------------------------------------------------------------------

REVENUE_SQL = """
SELECT t.client_id, c.name AS client_name,
       to_char(date_trunc('month', t.created_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month,
       (-sum(e.amount) FILTER (WHERE coalesce(o.kind, t.kind) = 'task_charge'))::bigint AS charges,
       (sum(e.amount) FILTER (WHERE coalesce(o.kind, t.kind) = 'refund'))::bigint AS refunds,
       (-sum(e.amount))::bigint AS revenue
  FROM billing_ledgerentry e
  JOIN billing_ledgertransaction t ON t.id = e.transaction_id
  LEFT JOIN billing_ledgertransaction o ON o.id = t.reverses_id
  LEFT JOIN clients_client c ON c.id = t.client_id
 WHERE e.account_id = ANY(%(revenue)s) AND t.created_at >= %(start)s AND t.created_at < %(end)s
 GROUP BY t.client_id, c.name, month
 ORDER BY month, revenue DESC, t.client_id
"""


def revenue_by_client_month(*, period: Period, currency: str) -> list[dict]:
    """One row per client and month: charges, refunds and revenue (= charges - refunds)."""
    return [
        {
            **row,
            "charges": row["charges"] or 0,
            "refunds": row["refunds"] or 0,
            "revenue": row["revenue"] or 0,
        }
        for row in dict_rows(REVENUE_SQL, period.params(currency))
    ]


# --- revenue per day (the operator trends) ---------------------------------------------------------

REVENUE_BY_DAY_SQL = """
SELECT (t.created_at AT TIME ZONE 'UTC')::date AS day, (-sum(e.amount))::bigint AS revenue
  FROM billing_ledgerentry e
  JOIN billing_ledgertransaction t ON t.id = e.transaction_id
 WHERE e.account_id = ANY(%(revenue)s) AND t.created_at >= %(start)s AND t.created_at < %(end)s
   AND (%(client)s::uuid IS NULL OR t.client_id = %(client)s::uuid)
 GROUP BY day
"""


def revenue_by_day(*, period: Period, currency: str, client_id=None) -> dict[date, int]:
    """Revenue (charges less refunds, as ``revenue_by_client_month``) per UTC day of ``period``
    (any days, ``[start, end)``), of one client or all; days without ledger activity are absent."""
    params = {**period.params(currency), "client": client_id}
    return {row["day"]: row["revenue"] or 0 for row in dict_rows(REVENUE_BY_DAY_SQL, params)}


# --- gross margin per month ------------------------------------------------------------------------

MARGIN_SQL = """
SELECT to_char(date_trunc('month', t.created_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month,
       coalesce(-sum(e.amount) FILTER (WHERE a.kind = 'platform_revenue'), 0)::bigint AS revenue,
       coalesce(sum(e.amount) FILTER (WHERE a.kind = 'labor_cost'), 0)::bigint AS labor_cost,
       coalesce(sum(e.amount) FILTER (WHERE a.kind = 'platform_cost'), 0)::bigint AS platform_cost
  FROM billing_ledgerentry e
  JOIN billing_account a ON a.id = e.account_id
  JOIN billing_ledgertransaction t ON t.id = e.transaction_id
 WHERE e.account_id = ANY(%(revenue)s::uuid[] || %(cost)s::uuid[])
   AND t.created_at >= %(start)s AND t.created_at < %(end)s
 GROUP BY month
 ORDER BY month
"""


def margin_by_month(*, period: Period, currency: str) -> list[dict]:
    """One row per month with ledger activity: revenue, labor and platform cost, margin."""
    out = []
    for row in dict_rows(MARGIN_SQL, period.params(currency)):
        margin = row["revenue"] - row["labor_cost"] - row["platform_cost"]
        out.append({**row, "margin": margin, "margin_bp": basis_points(margin, row["revenue"])})
    return out


# --- concentration ---------------------------------------------------------------------------------

CLIENT_REVENUE_SQL = """
SELECT t.client_id, c.name AS client_name, (-sum(e.amount))::bigint AS revenue
  FROM billing_ledgerentry e
  JOIN billing_ledgertransaction t ON t.id = e.transaction_id
  LEFT JOIN clients_client c ON c.id = t.client_id
 WHERE e.account_id = ANY(%(revenue)s) AND t.created_at >= %(start)s AND t.created_at < %(end)s
   AND t.client_id IS NOT NULL
 GROUP BY t.client_id, c.name
HAVING -sum(e.amount) > 0
 ORDER BY revenue DESC, t.client_id
"""


def hhi(revenues: list[int]) -> Fraction:
    """Herfindahl-Hirschman index of positive revenues: sum of (100 * r / R)^2, exact."""
    total = sum(revenues)
    if total <= 0:
        return Fraction(0)
    return sum((Fraction(100 * r, total) ** 2 for r in revenues), Fraction(0))


def concentration(*, period: Period, currency: str) -> dict:
    """Each client's share of revenue, the largest share and the HHI of the period."""
    rows = dict_rows(CLIENT_REVENUE_SQL, period.params(currency))
    total = sum(row["revenue"] for row in rows)
    clients = [
        {
            **row,
            "share": fraction_text(Fraction(row["revenue"], total)),
            "share_bp": basis_points(row["revenue"], total),
        }
        for row in rows
    ]
    index = hhi([row["revenue"] for row in rows])
    top = clients[0] if clients else None
    return {
        **period.as_dict(),
        "currency": currency,
        "revenue": total,
        "clients": clients,
        "client_count": len(clients),
        "top_client_id": top["client_id"] if top else None,
        "top_client_name": top["client_name"] if top else None,
        "top_share": top["share"] if top else "0",
        "top_share_bp": top["share_bp"] if top else 0,
        "hhi": fraction_text(index),
        "hhi_rounded": round(index),
    }


# --- annotator pay ---------------------------------------------------------------------------------

ANNOTATOR_PAY_SQL = """
SELECT t.user_id, sum(e.amount)::bigint AS pay, count(*) FILTER (WHERE t.kind = 'answer_pay') AS answers
  FROM billing_ledgerentry e
  JOIN billing_ledgertransaction t ON t.id = e.transaction_id
 WHERE e.account_id = ANY(%(cost)s) AND t.created_at >= %(start)s AND t.created_at < %(end)s
   AND t.user_id IS NOT NULL
 GROUP BY t.user_id
 ORDER BY t.user_id
"""


def annotator_pay(*, period: Period, currency: str) -> dict:
    """``{user_id: {"pay": earned in the period, "answers": paid answers}}``: the pay of accepted
    answers less the pay taken back from answers rejected afterwards (payouts are not earnings)."""
    return {
        row["user_id"]: {"pay": row["pay"], "answers": row["answers"]}
        for row in dict_rows(ANNOTATOR_PAY_SQL, period.params(currency))
    }
