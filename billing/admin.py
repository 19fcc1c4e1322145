"""The ledger in the admin: read-only (PostgreSQL refuses edits anyway). Invoices change through
their services (admin actions); revenue reports at /admin/billing/invoice/reports/; top-ups are
recorded at /admin/billing/clientcredit/topup/ and payouts run from the payouts list, both through
the services."""

import uuid
from datetime import date

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from billing import invoices, reports, services
from billing.models import (
    Account,
    ClientCredit,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    ProjectBudget,
    RateCard,
)
from clients.models import Client
from core.errors import DomainError


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnly):
    list_display = ["kind", "client", "user", "currency", "balance", "created_at"]
    list_filter = ["kind", "currency"]


class EntryInline(admin.TabularInline):
    model = LedgerEntry
    extra = 0
    can_delete = False
    readonly_fields = ["account", "amount", "currency", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnly):
    list_display = ["created_at", "kind", "client", "reference", "idempotency_key"]
    list_filter = ["kind"]
    search_fields = ["idempotency_key", "reference"]
    inlines = [EntryInline]


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    readonly_fields = ["project_name", "project_id", "task_type", "kind", "quantity", "amount"]

    def has_add_permission(self, request, obj=None):
        return False


def _invoice_action(service, done: str):
    def action(modeladmin, request, queryset):
        moved = 0
        for invoice in queryset.order_by("pk"):
            try:
                service(invoice_id=invoice.pk, actor=request.user)
                moved += 1
            except DomainError as exc:
                modeladmin.message_user(request, f"{invoice.number}: {exc.message}", level=messages.ERROR)
        if moved:
            modeladmin.message_user(request, f"{moved} invoice(s) {done}.", level=messages.SUCCESS)

    return action


@admin.register(Invoice)
class InvoiceAdmin(ReadOnly):
    """Invoices change only through the services (actions below); reports at ``reports/``."""

    list_display = [
        "number",
        "client",
        "period_start",
        "status",
        "currency",
        "subtotal",
        "refunds",
        "total",
        "issued_at",
        "paid_at",
    ]
    list_filter = ["status", "period_start", "currency"]
    search_fields = ["number", "client__name", "client__slug"]
    inlines = [InvoiceLineInline]
    actions = ["issue", "mark_paid", "void"]
    change_list_template = "admin/billing/invoice/change_list.html"

    @admin.action(description="Issue the selected draft invoices (applies client funds)")
    def issue(self, request, queryset):
        _invoice_action(invoices.invoice_issue, "issued")(self, request, queryset)

    @admin.action(description="Mark the selected issued invoices paid")
    def mark_paid(self, request, queryset):
        _invoice_action(invoices.invoice_mark_paid, "marked paid")(self, request, queryset)

    @admin.action(description="Void the selected invoices (funds applied go back)")
    def void(self, request, queryset):
        _invoice_action(invoices.invoice_void, "voided")(self, request, queryset)

    def get_urls(self):
        view = self.admin_site.admin_view(self.reports_view)
        return [path("reports/", view, name="billing_reports"), *super().get_urls()]

    def reports_view(self, request):
        """Revenue, margin and concentration for ``?from=YYYY-MM&to=YYYY-MM`` (default: the last 12
        months)."""
        this_month = timezone.now().date().replace(day=1)
        first = request.GET.get("from") or f"{date(this_month.year - 1, this_month.month, 1):%Y-%m}"
        last = request.GET.get("to") or f"{this_month:%Y-%m}"
        context = {
            **self.admin_site.each_context(request),
            "title": "Revenue reports",
            "from": first,
            "to": last,
        }
        try:
            period = reports.period_parse(first=first, last=last)
            currency = reports.currency_parse(request.GET.get("currency"))
        except DomainError as exc:
            context["error"] = exc.message
        else:
            context.update(
                currency=currency,
                margin=reports.margin_by_month(period=period, currency=currency),
                concentration=reports.concentration(period=period, currency=currency),
                revenue=reports.revenue_by_client_month(period=period, currency=currency),
            )
        return TemplateResponse(request, "admin/billing/reports.html", context)


@admin.register(RateCard)
class RateCardAdmin(admin.ModelAdmin):
    """Rate cards are versioned: staff add a new version (it applies to work created after its
    ``effective_from``); an existing version is never edited or deleted."""

    list_display = [
        "task_type",
        "client",
        "currency",
        "price_per_task",
        "pay_per_answer",
        "effective_from",
        "created_by",
    ]
    list_filter = ["task_type", "currency"]
    search_fields = ["client__name", "client__slug"]
    fields = ["task_type", "client", "currency", "price_per_task", "pay_per_answer", "effective_from"]

    def has_change_permission(self, request, obj=None):
        return obj is None

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            card = services.rate_card_set(
                task_type=obj.task_type,
                currency=obj.currency,
                price_per_task=obj.price_per_task,
                pay_per_answer=obj.pay_per_answer,
                client=obj.client,
                effective_from=obj.effective_from,
                actor=request.user,
            )
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk, obj._state.adding = card.pk, False


class TopupForm(forms.Form):
    client = forms.ModelChoiceField(queryset=Client.objects.filter(is_active=True).order_by("name"))
    amount = forms.IntegerField(
        min_value=1, max_value=services.MAX_AMOUNT, help_text="Minor units of the client's currency (cents)."
    )
    reference = forms.CharField(max_length=200, help_text="The bank transfer's reference.")
    # One key per form shown: submitting the same form twice records the top-up once.
    key = forms.CharField(widget=forms.HiddenInput)


@admin.register(ClientCredit)
class ClientCreditAdmin(admin.ModelAdmin):
    """Credit limits: changed through ``credit_limit_set``; the counters are read-only. Top-ups
    (money deposited in advance) are recorded through ``topup_record`` at ``topup/``."""

    list_display = ["client", "credit_limit", "committed", "received", "updated_at"]
    search_fields = ["client__name", "client__slug"]
    fields = ["client", "credit_limit", "committed", "received"]
    readonly_fields = ["client", "committed", "received"]
    change_list_template = "admin/billing/clientcredit/change_list.html"

    def get_urls(self):
        return [
            path("topup/", self.admin_site.admin_view(self.topup_view), name="billing_topup"),
            *super().get_urls(),
        ]

    def topup_view(self, request):
        form = TopupForm(request.POST or None, initial={"key": uuid.uuid4().hex})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                services.topup_record(
                    client=data["client"],
                    amount=data["amount"],
                    reference=data["reference"],
                    key=f"admin-topup:{data['key']}",
                    actor=request.user,
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    f"Top-up of {invoices.money_format(data['amount'], data['client'].currency)} "
                    f"recorded for {data['client'].name}.",
                    messages.SUCCESS,
                )
                return redirect("admin:billing_clientcredit_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Record a top-up",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/billing/topup.html", context)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            services.credit_limit_set(client=obj.client, credit_limit=obj.credit_limit, actor=request.user)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)


@admin.register(ProjectBudget)
class ProjectBudgetAdmin(ReadOnly):
    list_display = ["project_id", "client", "limit", "committed", "updated_at"]
    search_fields = ["client__name", "project_id"]


@admin.register(Payout)
class PayoutAdmin(ReadOnly):
    """Payouts are made by ``payouts_run`` (weekly on the beat, or now from the list's button)."""

    list_display = ["created_at", "user", "amount", "currency", "status", "period_end"]
    list_filter = ["status", "currency"]
    search_fields = ["user__email"]
    change_list_template = "admin/billing/payout/change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view(require_POST(self.run_view))
        return [path("run/", view, name="billing_payouts_run"), *super().get_urls()]

    def run_view(self, request):
        made = services.payouts_run(actor=request.user)
        self.message_user(
            request,
            f"{len(made)} payout(s) made." if made else "No annotator has reached the payout minimum.",
            messages.SUCCESS if made else messages.INFO,
        )
        return redirect("admin:billing_payout_changelist")
