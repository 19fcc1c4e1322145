"""Client portal: invoices and usage (owners and admins, as the billing API)."""

from __future__ import annotations

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from billing import invoices, selectors
from billing.models import Invoice
from clients.web.access import ADMIN, client_page
from core.dbrouter import replica_view


@require_GET
@client_page(ADMIN)
@replica_view
def billing_overview(request, client):
    month = timezone.now().date().replace(day=1)
    usage = invoices.ledger_lines(client=client, period_start=month, period_end=invoices.next_month(month))
    return render(
        request,
        "portal/billing.html",
        {
            "client": client,
            "balance": selectors.client_balance(client=client),
            "month": month,
            "usage": usage,
            "usage_total": sum(line["amount"] for line in usage),
            "invoices": Invoice.objects.filter(client=client).order_by("-period_start", "-created_at"),
        },
    )


@require_GET
@client_page(ADMIN)
@replica_view
def invoice_detail(request, client, invoice_id):
    invoice = invoices.invoice_get_for_client(client=client, invoice_id=invoice_id)
    return render(
        request,
        "portal/invoice.html",
        {
            "invoice": invoice,
            "settlement": invoices.invoice_settlement(invoice),
            "lines": invoice.lines.order_by("project_name", "project_id", "task_type", "kind", "id"),
        },
    )
