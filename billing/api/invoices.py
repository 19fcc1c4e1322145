"""Invoices through the API: clients read theirs (JSON, CSV, printable HTML); staff generate,
issue, mark paid and void. Issue and pay move money, so they need an ``Idempotency-Key``."""

from __future__ import annotations

from django.http import HttpResponse
from django.template.loader import render_to_string
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import invoices
from billing.api.money import IDEMPOTENCY, _client, _parse
from billing.idempotency import idempotent
from billing.models import Invoice, InvoiceLine
from billing.web import downloads
from clients.api.access import ADMIN, caller_client, caller_staff
from core.dbrouter import replica_view
from core.pagination import NewestFirstCursor, paginated_response


class InvoiceLineOut(serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = ["project_id", "project_name", "task_type", "kind", "quantity", "amount"]


class InvoiceSummaryOut(serializers.ModelSerializer):
    # Plain text in the schema: an enum named "status" would collide with the other status enums.
    status = serializers.CharField(help_text="draft, issued, paid or void")

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "client",
            "period_start",
            "period_end",
            "currency",
            "status",
            "subtotal",
            "refunds",
            "total",
            "created_at",
            "issued_at",
            "paid_at",
            "voided_at",
        ]


class InvoiceOut(InvoiceSummaryOut):
    lines = InvoiceLineOut(many=True)
    funds_applied = serializers.IntegerField(help_text="Paid from the client's funds when issued.")
    payment = serializers.IntegerField(help_text="Recorded as paid by transfer.")
    amount_due = serializers.IntegerField(help_text="Still owed on an issued invoice.")

    class Meta(InvoiceSummaryOut.Meta):
        fields = [*InvoiceSummaryOut.Meta.fields, "funds_applied", "payment", "amount_due", "lines"]


def _lines(invoice: Invoice):
    return invoice.lines.order_by("project_name", "project_id", "task_type", "kind", "id")


def invoice_data(invoice: Invoice) -> dict:
    """``InvoiceOut``: the invoice, its settlement figures and its lines."""
    return {
        **InvoiceSummaryOut(invoice).data,
        **invoices.invoice_settlement(invoice),
        "lines": InvoiceLineOut(_lines(invoice), many=True).data,
    }


# --- client ----------------------------------------------------------------------------------------


class InvoiceListView(APIView):
    pagination_class = NewestFirstCursor

    @extend_schema(responses=InvoiceSummaryOut(many=True), summary="The client's invoices, newest first")
    @replica_view
    def get(self, request):
        client = caller_client(request, ADMIN)
        return paginated_response(
            request=request,
            view=self,
            queryset=Invoice.objects.filter(client=client),
            serializer_class=InvoiceSummaryOut,
        )


class InvoiceDetailView(APIView):
    @extend_schema(responses=InvoiceOut, summary="One invoice with its lines (minor units)")
    @replica_view
    def get(self, request, invoice_id):
        invoice = invoices.invoice_get_for_client(client=caller_client(request, ADMIN), invoice_id=invoice_id)
        return Response(invoice_data(invoice))


class InvoiceCsvView(APIView):
    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.STR}, summary="One invoice as CSV (one row per line)"
    )
    @replica_view
    def get(self, request, invoice_id):
        invoice = invoices.invoice_get_for_client(client=caller_client(request, ADMIN), invoice_id=invoice_id)
        invoice_cells = [invoice.number, invoice.period_start, invoice.period_end, invoice.currency]
        rows = [
            [
                *invoice_cells,
                line.project_id or "",
                downloads.csv_safe(line.project_name),
                line.task_type,
                line.kind,
                line.quantity,
                line.amount,
            ]
            for line in _lines(invoice)
        ]
        rows.append([*invoice_cells, "", "", "", "total", "", invoice.total])
        header = [
            "invoice",
            "period_start",
            "period_end",
            "currency",
            "project_id",
            "project_name",
            "task_type",
            "kind",
            "quantity",
            "amount_minor",
        ]
        return downloads.csv_response(f"{invoice.number}.csv", header, rows)


class InvoiceHtmlView(APIView):
    @extend_schema(
        responses={(200, "text/html"): OpenApiTypes.STR}, summary="One invoice as a printable HTML page"
    )
    @replica_view
    def get(self, request, invoice_id):
        invoice = invoices.invoice_get_for_client(client=caller_client(request, ADMIN), invoice_id=invoice_id)
        settlement = invoices.invoice_settlement(invoice)

        def money(amount: int) -> str:
            return invoices.money_format(amount, invoice.currency)

        context = {
            "invoice": invoice,
            "client": invoice.client,
            "lines": [{"line": line, "amount": money(line.amount)} for line in _lines(invoice)],
            "subtotal": money(invoice.subtotal),
            "refunds": money(-invoice.refunds),
            "total": money(invoice.total),
            "funds_applied": money(settlement["funds_applied"]),
            "amount_due": money(settlement["amount_due"]),
        }
        return HttpResponse(
            render_to_string("billing/invoice.html", context), content_type="text/html; charset=utf-8"
        )


# --- staff -----------------------------------------------------------------------------------------


class GenerateIn(serializers.Serializer):
    period = serializers.RegexField(r"^\d{4}-\d{2}$", help_text="The month, as YYYY-MM.")


class StaffInvoiceGenerateView(APIView):
    @extend_schema(
        request=GenerateIn,
        responses=InvoiceOut,
        summary="Staff: generate (or rebuild the draft of) a client's invoice for a month",
    )
    def post(self, request, client_id):
        staff = caller_staff(request)
        data = _parse(GenerateIn, request)
        client = _client(client_id)
        invoice = invoices.invoice_generate(
            client=client, period_start=invoices.month_start(data["period"]), actor=staff
        )
        return Response(invoice_data(invoice))


class ReasonIn(serializers.Serializer):
    reason = serializers.CharField(max_length=300, allow_blank=True, default="")


class StaffInvoiceIssueView(APIView):
    @extend_schema(
        request=None,
        responses=InvoiceOut,
        parameters=[IDEMPOTENCY],
        summary="Staff: issue a draft invoice (applies the client's funds)",
    )
    @idempotent(authorize=caller_staff)
    def post(self, request, invoice_id, idempotency_key):
        staff = caller_staff(request)
        return Response(invoice_data(invoices.invoice_issue(invoice_id=invoice_id, actor=staff)))


class PayIn(serializers.Serializer):
    reference = serializers.CharField(
        max_length=200, allow_blank=True, default="", help_text="e.g. the bank transfer's id"
    )


class StaffInvoicePayView(APIView):
    @extend_schema(
        request=PayIn,
        responses=InvoiceOut,
        parameters=[IDEMPOTENCY],
        summary="Staff: mark an issued invoice paid (records the payment of what is due)",
    )
    @idempotent(authorize=caller_staff)
    def post(self, request, invoice_id, idempotency_key):
        staff = caller_staff(request)
        data = _parse(PayIn, request)
        return Response(
            invoice_data(
                invoices.invoice_mark_paid(invoice_id=invoice_id, reference=data["reference"], actor=staff)
            )
        )


class StaffInvoiceVoidView(APIView):
    @extend_schema(
        request=ReasonIn,
        responses=InvoiceOut,
        parameters=[IDEMPOTENCY],
        summary="Staff: void a draft or issued invoice (funds applied go back)",
    )
    @idempotent(authorize=caller_staff)
    def post(self, request, invoice_id, idempotency_key):
        staff = caller_staff(request)
        data = _parse(ReasonIn, request)
        return Response(
            invoice_data(invoices.invoice_void(invoice_id=invoice_id, reason=data["reason"], actor=staff))
        )
