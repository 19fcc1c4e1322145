"""Staff pages for invoices: generate a client's monthly invoice, issue it, mark it paid or void
it (``billing.invoices`` services; the same as the admin actions and the staff API)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from billing import invoices
from billing.models import Invoice
from clients.models import Client
from clients.web.access import staff_page
from clients.web.errors import form_error, refused
from core.dbrouter import replica_view
from core.errors import DomainError, NotFound


class GenerateForm(forms.Form):
    client = forms.ModelChoiceField(queryset=Client.objects.filter(is_active=True).order_by("name"))
    period = forms.CharField(max_length=7, label="Month (YYYY-MM)")


ACTIONS = {
    "issue": (invoices.invoice_issue, "issued"),
    "pay": (invoices.invoice_mark_paid, "marked paid"),
    "void": (invoices.invoice_void, "voided"),
}


@require_http_methods(["GET", "POST"])
@staff_page
@replica_view
def invoice_list(request):
    form = GenerateForm(
        request.POST or None,
        initial={"period": f"{invoices.previous_month(timezone.now().date().replace(day=1)):%Y-%m}"},
    )
    if request.method == "POST" and form.is_valid():
        try:
            invoice = invoices.invoice_generate(
                client=form.cleaned_data["client"],
                period_start=invoices.month_start(form.cleaned_data["period"]),
                actor=request.user,
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(
                request,
                f"Invoice {invoice.number} ({invoice.get_status_display()}) for {invoice.client.name}.",
            )
            return redirect("ops-invoices")
    status = request.GET.get("status") or ""
    qs = Invoice.objects.select_related("client").order_by("-period_start", "number")
    if status in Invoice.Status.values:
        qs = qs.filter(status=status)
    return render(
        request,
        "ops/invoices.html",
        {"form": form, "invoices": qs[:200], "status": status, "statuses": Invoice.Status.values},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@staff_page
def invoice_action(request, invoice_id, action):
    if action not in ACTIONS:
        raise NotFound(f"No invoice action {action!r}.")
    service, done = ACTIONS[action]
    try:
        invoice = service(invoice_id=invoice_id, actor=request.user)
    except DomainError as exc:
        refused(request, exc)
    else:
        messages.success(request, f"Invoice {invoice.number} {done}.")
    return redirect("ops-invoices")
