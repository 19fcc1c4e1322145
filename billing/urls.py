"""Routes under /api/v1/billing/ (client and annotator) and /api/v1/staff/ (staff)."""

from django.urls import path

from billing.api import money

billing_urls = [
    path("balance", money.BalanceView.as_view(), name="billing-balance"),
    path("budgets", money.BudgetListView.as_view(), name="billing-budgets"),
    path("payouts", money.MyPayoutsView.as_view(), name="billing-my-payouts"),
    path("earnings", money.MyEarningsView.as_view(), name="billing-my-earnings"),
]

staff_urls = [
    path("clients/<uuid:client_id>/topups", money.StaffTopupView.as_view(), name="staff-topup"),
    path("clients/<uuid:client_id>/payments", money.StaffPaymentView.as_view(), name="staff-payment"),
    path("clients/<uuid:client_id>/refunds", money.StaffRefundView.as_view(), name="staff-refund"),
    path("clients/<uuid:client_id>/credit", money.StaffCreditView.as_view(), name="staff-credit"),
]
