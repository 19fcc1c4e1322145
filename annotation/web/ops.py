"""Operator dashboards at /ops/ (staff only): revenue by client with the concentration index,
gross margin, queue depth and lease expiries, annotators' pay against the fair-pay floor. They
read the same reports as the staff API and the admin's reports page (``billing.reports``,
``annotation.reports``)."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from annotation import reports as annotation_reports
from annotation.web import ops_selectors
from billing import reports
from clients.web.access import staff_page
from clients.web.errors import readable
from core.errors import DomainError


def _default_period(today: date) -> tuple[str, str]:
    """The last 12 months, this one included."""
    index = today.year * 12 + today.month - 1 - 11
    return f"{date(index // 12, index % 12 + 1, 1):%Y-%m}", f"{today:%Y-%m}"


@require_GET
@staff_page
def dashboard(request):
    """``?from=YYYY-MM&to=YYYY-MM&currency=USD`` (default: the last 12 months, USD). A bad period or
    currency is shown above the money figures; the queue figures still show."""
    now = timezone.now()
    default_from, default_to = _default_period(now.date())
    first, last = request.GET.get("from") or default_from, request.GET.get("to") or default_to
    context = {
        "from": first,
        "to": last,
        "currency": request.GET.get("currency") or "USD",
        "queue": ops_selectors.queue_depth(),
        "leases": ops_selectors.lease_expiries(now=now),
        "now": now,
    }
    try:
        period = reports.period_parse(first=first, last=last)
        currency = reports.currency_parse(request.GET.get("currency"))
    except DomainError as exc:
        context["error"] = readable(exc.message)
        status = 400
    else:
        concentration = reports.concentration(period=period, currency=currency)
        margin = reports.margin_by_month(period=period, currency=currency)
        totals = {
            key: sum(row[key] for row in margin)
            for key in ("revenue", "labor_cost", "platform_cost", "margin")
        }
        totals["margin_bp"] = reports.basis_points(totals["margin"], totals["revenue"])
        context.update(
            currency=currency,
            concentration=concentration,
            margin=margin,
            margin_totals=totals,
            pay=annotation_reports.annotator_hourly_pay(period=period, currency=currency),
            floor=settings.QUORUM_FAIR_PAY_FLOOR_PER_HOUR,
        )
        status = 200
    return render(request, "ops/dashboard.html", context, status=status)
