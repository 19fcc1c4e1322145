"""Billing pages: a client's invoices and usage (portal) and staff invoice handling (ops)."""
