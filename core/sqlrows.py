"""Rows of a raw SQL query as dicts (the reports' and trends' read-only aggregates)."""

from __future__ import annotations

from django.db import connections

from core.dbrouter import read_alias


def dict_rows(sql: str, params: dict | list | None = None, *, using: str | None = None) -> list[dict]:
    """Every row of ``sql`` as ``{column name: value}``, read from ``using``, by default where the
    router sends reads now: the primary, or inside ``replica_reads()`` (a ``replica_view``) the
    replica. Only for SELECTs."""
    with connections[using or read_alias()].cursor() as cursor:
        cursor.execute(sql, params)
        names = [col[0] for col in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
