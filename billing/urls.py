"""Routes under /api/v1/billing/ (client and annotator) and /api/v1/staff/ (staff)."""

from django.urls import path

from billing.api import invoices, money, reports

billing_urls = [
    path("balance", money.BalanceView.as_view(), name="billing-balance"),
    path("budgets", money.BudgetListView.as_view(), name="billing-budgets"),
    path("payouts", money.MyPayoutsView.as_view(), name="billing-my-payouts"),
    path("earnings", money.MyEarningsView.as_view(), name="billing-my-earnings"),
    path("invoices", invoices.InvoiceListView.as_view(), name="billing-invoices"),
    path("invoices/<uuid:invoice_id>", invoices.InvoiceDetailView.as_view(), name="billing-invoice"),
    path("invoices/<uuid:invoice_id>/csv", invoices.InvoiceCsvView.as_view(), name="billing-invoice-csv"),
    path("invoices/<uuid:invoice_id>/html", invoices.InvoiceHtmlView.as_view(), name="billing-invoice-html"),
]

staff_urls = [
    path("payouts.csv", money.StaffPayoutCsvView.as_view(), name="staff-payouts-csv"),
    path("clients/<uuid:client_id>/topups", money.StaffTopupView.as_view(), name="staff-topup"),
    path("clients/<uuid:client_id>/payments", money.StaffPaymentView.as_view(), name="staff-payment"),
    path("clients/<uuid:client_id>/refunds", money.StaffRefundView.as_view(), name="staff-refund"),
    path("clients/<uuid:client_id>/credit", money.StaffCreditView.as_view(), name="staff-credit"),
    path(
        "clients/<uuid:client_id>/invoices",
        invoices.StaffInvoiceGenerateView.as_view(),
        name="staff-invoice-generate",
    ),
    path(
        "invoices/<uuid:invoice_id>/issue",
        invoices.StaffInvoiceIssueView.as_view(),
        name="staff-invoice-issue",
    ),
    path("invoices/<uuid:invoice_id>/pay", invoices.StaffInvoicePayView.as_view(), name="staff-invoice-pay"),
    path(
        "invoices/<uuid:invoice_id>/void", invoices.StaffInvoiceVoidView.as_view(), name="staff-invoice-void"
    ),
    path("reports/revenue", reports.RevenueReportView.as_view(), name="staff-report-revenue"),
    path(
        "reports/concentration", reports.ConcentrationReportView.as_view(), name="staff-report-concentration"
    ),
    path("reports/margin", reports.MarginReportView.as_view(), name="staff-report-margin"),
]
