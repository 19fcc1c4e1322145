"""Rows of raw SQL: as dicts (the reports' and trends' read-only aggregates), or as model instances
holding only the columns a statement returned (the work loop's claim)."""

from __future__ import annotations

import functools

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import DEFERRED, Model

from core.dbrouter import read_alias


def dict_rows(sql: str, params: dict | list | None = None, *, using: str | None = None) -> list[dict]:
    """Every row of ``sql`` as ``{column name: value}``, read from ``using``, by default where the
    router sends reads now: the primary, or inside ``replica_reads()`` (a ``replica_view``) the
    replica. Only for SELECTs."""
    with connections[using or read_alias()].cursor() as cursor:
        cursor.execute(sql, params)
        names = [col[0] for col in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@functools.cache
def _columns(model: type[Model]) -> tuple[tuple[str, ...], frozenset[str]]:
    attnames = tuple(f.attname for f in model._meta.concrete_fields)
    return attnames, frozenset(attnames)


def loaded(model: type[Model], **values) -> Model:
    """An instance of ``model`` as if read from the database with only these columns (by attribute
    name, e.g. ``task_id``): the others are deferred, so touching one reads it (a query) instead of
    silently holding a default, and no field default is computed (``Model(**kwargs)`` calls every
    other field's default: most of the CPU of building one). ``Model.from_db`` with the values in
    the model's field order."""
    attnames, known = _columns(model)
    if not known.issuperset(values):
        raise TypeError(f"{model.__name__} has no column {sorted(values.keys() - known)}")
    instance = model(*[values.get(name, DEFERRED) for name in attnames])
    instance._state.adding = False
    instance._state.db = DEFAULT_DB_ALIAS
    return instance
