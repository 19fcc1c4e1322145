"""Billing page routes: ``portal_urls`` under /portal/, ``ops_urls`` under /ops/ (config/urls.py)."""

from django.urls import path

from billing.web import ops, portal

portal_urls = [
    path("billing/", portal.billing_overview, name="portal-billing"),
    path("billing/invoices/<uuid:invoice_id>/", portal.invoice_detail, name="portal-invoice"),
]

ops_urls = [
    path("invoices/", ops.invoice_list, name="ops-invoices"),
    path("invoices/<uuid:invoice_id>/<str:action>", ops.invoice_action, name="ops-invoice-action"),
]
