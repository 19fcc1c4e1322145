"""Rows of a raw SQL query as dicts (the reports' and trends' aggregates)."""

from __future__ import annotations

from django.db import connection


def dict_rows(sql: str, params: dict | list | None = None) -> list[dict]:
    """Every row of ``sql`` on the default connection, as ``{column name: value}``."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [col[0] for col in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
