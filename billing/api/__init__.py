"""Billing's HTTP interface: client money reads, staff money writes, annotator payouts.

Every endpoint that moves money takes an ``Idempotency-Key`` (``billing/idempotency.py``)."""
