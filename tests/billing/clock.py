"""Post ledger rows at a chosen time (the ledger stamps ``created_at`` itself and refuses
UPDATE, so a test that needs last month's entries sets the field default while posting)."""

import contextlib
from datetime import UTC, datetime

from billing.models import LedgerEntry, LedgerTransaction


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@contextlib.contextmanager
def ledger_at(when: datetime):
    fields = [LedgerTransaction._meta.get_field("created_at"), LedgerEntry._meta.get_field("created_at")]
    saved = [field.__dict__.get("_get_default") for field in fields]
    for field in fields:
        field._get_default = lambda: when  # an instance attribute shadows the cached_property
    try:
        yield
    finally:
        for field, old in zip(fields, saved, strict=True):
            if old is None:
                field.__dict__.pop("_get_default", None)
            else:
                field._get_default = old
