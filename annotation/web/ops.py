"""Operator dashboards at /ops/ (staff only): revenue by client with the concentration index,
gross margin, queue depth and lease expiries, annotators' pay against the fair-pay floor. They
read the same reports as the staff API and the admin's reports page (``billing.reports``,
``annotation.reports``). /ops/trends/ draws the daily trends (``annotation.trends``) as charts,
and /ops/trends.csv gives the same figures as a file."""

from __future__ import annotations

import uuid
from datetime import date

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from annotation import reports as annotation_reports
from annotation import trends as trend_reports
from annotation.web import charts, ops_selectors
from billing import reports
from billing.invoices import money_format
from billing.web import downloads
from clients.models import Client
from clients.web.access import staff_page
from clients.web.errors import readable
from core.dbrouter import replica_view
from core.errors import DomainError, ValidationFailed


def _default_period(today: date) -> tuple[str, str]:
    """The last 12 months, this one included."""
    index = today.year * 12 + today.month - 1 - 11
    return f"{date(index // 12, index % 12 + 1, 1):%Y-%m}", f"{today:%Y-%m}"


@require_GET
@staff_page
@replica_view
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


# --- trends ------------------------------------------------------------------------------------------


def duration_text(seconds: float | None) -> str:
    """``None`` → ``—``; ``95`` → ``1m 35s``; ``7260`` → ``2h 1m``; ``90000`` → ``1d 1h``."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _trend_query(request) -> dict:
    """The trends' filters from the query string, parsed; raises ``ValidationFailed``."""
    today = timezone.now().date()
    days = trend_reports.range_parse(
        first=request.GET.get("from") or None, last=request.GET.get("to") or None, today=today
    )
    currency = reports.currency_parse(request.GET.get("currency") or None)
    client_id = None
    raw_client = request.GET.get("client") or ""
    if raw_client:
        try:
            client_id = Client.objects.values_list("pk", flat=True).get(pk=uuid.UUID(raw_client))
        except (ValueError, Client.DoesNotExist) as exc:
            raise ValidationFailed(
                "client: no such client", code="invalid_client", details={"field": "client"}
            ) from exc
    return {"days": days, "currency": currency, "client_id": client_id}


def _trend_charts(rows: list[dict], currency: str) -> list[dict]:
    days = [r["day"] for r in rows]
    specs = [
        ("throughput", "Tasks completed per day", "completed", str),
        ("latency", "Median completion time (created → completed)", "median_seconds", duration_text),
        ("revenue", f"Revenue per day ({currency})", "revenue", lambda v: money_format(int(v), currency)),
        ("queue", "Queue depth (open tasks at the end of the day)", "queue_depth", str),
    ]
    out = []
    for key, title, field, label in specs:
        values = [r[field] or 0 for r in rows]
        out.append(
            {
                **charts.daily_plot(days=days, values=values, y_label=label),
                "key": key,
                "title": f"{title}, {days[0]:%Y-%m-%d} to {days[-1]:%Y-%m-%d}",
            }
        )
    return out


@require_GET
@staff_page
@replica_view
def trends(request):
    """``?from=YYYY-MM-DD&to=YYYY-MM-DD&currency=USD&client=<id>`` (default: the last 30 days, USD,
    every client). A bad filter is shown on the page, with nothing drawn."""
    context = {
        "from": request.GET.get("from", ""),
        "to": request.GET.get("to", ""),
        "currency": request.GET.get("currency") or "USD",
        "client_id": request.GET.get("client", ""),
        "clients": Client.objects.order_by("name").values("id", "name"),
    }
    try:
        query = _trend_query(request)
    except DomainError as exc:
        context["error"] = readable(exc.message)
        return render(request, "ops/trends.html", context, status=400)
    rows = trend_reports.daily_trends(
        days=query["days"], currency=query["currency"], client_id=query["client_id"]
    )
    for row in rows:
        row["median_text"] = duration_text(row["median_seconds"])
    context.update(
        {
            "from": f"{query['days'].first:%Y-%m-%d}",
            "to": f"{query['days'].last:%Y-%m-%d}",
            "currency": query["currency"],
            "rows": rows,
            "charts": _trend_charts(rows, query["currency"]),
            "totals": {
                "completed": sum(r["completed"] for r in rows),
                "revenue": sum(r["revenue"] for r in rows),
            },
            "csv_query": request.GET.urlencode(),
        }
    )
    return render(request, "ops/trends.html", context)


@require_GET
@staff_page
@replica_view
def trends_csv(request):
    """The trends' figures, one row per day: money in minor units and as a decimal, the median in
    seconds (empty on a day without completions). A bad filter: 400 with the reason as text."""
    try:
        query = _trend_query(request)
    except DomainError as exc:
        return HttpResponse(readable(exc.message), status=400, content_type="text/plain; charset=utf-8")
    currency = query["currency"]
    rows = trend_reports.daily_trends(days=query["days"], currency=currency, client_id=query["client_id"])
    days = query["days"]
    return downloads.csv_response(
        f"trends-{days.first}-{days.last}.csv",
        [
            "day",
            "tasks_completed",
            "median_completion_seconds",
            "revenue_minor",
            "revenue",
            "currency",
            "queue_depth",
        ],
        (
            [
                f"{r['day']:%Y-%m-%d}",
                r["completed"],
                "" if r["median_seconds"] is None else r["median_seconds"],
                r["revenue"],
                downloads.money_decimal(r["revenue"], currency),
                currency,
                r["queue_depth"],
            ]
            for r in rows
        ),
    )
