"""Insert many rows of one model with PostgreSQL ``COPY … FROM STDIN`` (psycopg 3's ``cursor.copy()``).

``bulk_create`` spends most of its time in Python: a model instance per row, then every field's
``pre_save`` / ``get_db_prep_save`` per row, then one large parameterised INSERT. ``copy_rows``
does the per-model work once (which columns, which values are the same for every row, how each
varying column is converted) and streams the rows as COPY data in the current transaction, so the
per-row cost is building one tuple.

Columns come from the model's concrete fields, so a field added to the model later is written too:
with its value when the caller passes one (``common`` or the row), else with its default, once
for the whole COPY (a callable default, such as ``uuid7`` or ``timezone.now``, is called per row).
An auto-increment primary key is left to the database. JSON fields are written as compact JSON
text (SQL NULL for ``None``, as Django writes them), or as the text of an ``Encoded`` value a
caller has already encoded (a bulk import encodes each value once, to measure it and to write it);
every other value is written as it is (UUID, str, int, bool, datetime), so only plain field types
belong in ``rows``.

Errors are Django's (``IntegrityError`` for a unique or check violation, ``OperationalError`` for a
deadlock), so callers handle them as they would around the ORM.
"""

from __future__ import annotations

import datetime
import decimal
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, models
from django.db.models.fields import NOT_PROVIDED

from core.jsontext import Encoded, compact


def json_text(value: Any) -> str | None:
    """JSON text for a jsonb column; SQL NULL for None (Django's JSONField does the same). An
    ``Encoded`` value gives its text as it is."""
    if value is None:
        return None
    if type(value) is Encoded:
        return value.text
    return compact(value)


def _converter(field: models.Field) -> Callable[[Any], Any] | None:
    if isinstance(field, models.JSONField):
        return json_text
    return None


def _is_auto(field: models.Field) -> bool:
    return isinstance(field, models.AutoField | models.BigAutoField | models.SmallAutoField)


# COPY's text format: columns separated by tabs, rows by newlines, NULL as \N; in a value, a
# backslash, tab, newline or carriage return is escaped with a backslash.
_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"


_SPECIAL = re.compile(r"[\\\t\n\r]")


def _str(value: str) -> str:
    return value.translate(_ESCAPE) if _SPECIAL.search(value) else value


_FORMAT: dict[type, Callable[[Any], str]] = {
    str: _str,
    int: int.__repr__,
    bool: lambda value: "t" if value else "f",
    float: float.__repr__,  # PostgreSQL reads repr's 'inf' and 'nan'
    uuid.UUID: uuid.UUID.__str__,
    datetime.datetime: datetime.datetime.isoformat,  # aware under USE_TZ: the offset is written
    datetime.date: datetime.date.isoformat,
    decimal.Decimal: decimal.Decimal.__str__,
    type(None): lambda value: NULL,
}


def text_value(value: Any) -> str:
    """One value in COPY text format. Plain types only (see ``_FORMAT``); subclasses are formatted
    as their base type; anything else is a TypeError, never a silent ``str()``."""
    formatter = _FORMAT.get(type(value))
    if formatter is None:
        for base, candidate in _FORMAT.items():
            if base is not type(None) and isinstance(value, base):
                formatter = candidate
                break
        else:
            raise TypeError(f"COPY cannot write a {type(value).__name__} value")
        if base is str:
            value = str(value)
    return formatter(value)


def text_row(values: Sequence[Any]) -> str:
    """One row in COPY text format, without its newline."""
    out = []
    for value in values:
        formatter = _FORMAT.get(type(value))
        out.append(formatter(value) if formatter is not None else text_value(value))
    return "\t".join(out)


def copy_rows(
    model: type[models.Model],
    *,
    varying: Sequence[str],
    rows: Iterable[Sequence[Any]],
    common: dict[str, Any] | None = None,
    chunk_rows: int = 1000,
) -> int:
    """COPY ``rows`` into ``model``'s table; return how many were written.

    ``varying`` names the fields (by ``attname``, e.g. ``project_id``, or by name) whose values each
    row gives, in that order; ``common`` the values shared by every row, formatted once. Every
    other concrete field gets its default. The rows are formatted here in COPY's text format
    (``text_row``) and sent ``chunk_rows`` at a time. Runs on the default connection, in the
    caller's transaction."""
    common = dict(common or {})
    fields = [f for f in model._meta.concrete_fields if not _is_auto(f)]
    by_key = {**{f.name: f for f in fields}, **{f.attname: f for f in fields}}
    unknown = [k for k in [*varying, *common] if k not in by_key]
    if unknown:
        raise ValueError(f"{model.__name__} has no concrete field {unknown[0]!r}")
    varying_fields = [by_key[k] for k in varying]
    taken = {f.attname for f in varying_fields}
    constant_fields, constant_values, per_row_defaults = [], [], []
    for key, value in common.items():
        field = by_key[key]
        if field.attname in taken:
            raise ValueError(f"{key!r} is both varying and common")
        taken.add(field.attname)
        constant_fields.append(field)
        convert = _converter(field)
        constant_values.append(convert(value) if convert else value)
    for field in fields:
        if field.attname in taken:
            continue
        if field.has_default() and callable(field.default):
            per_row_defaults.append(field)
        else:
            constant_fields.append(field)
            value = field.get_default() if field.default is not NOT_PROVIDED else None
            convert = _converter(field)
            constant_values.append(convert(value) if convert else value)
    convert_at = [(i, c) for i, f in enumerate(varying_fields) if (c := _converter(f)) is not None]
    default_makers = [(f.get_default, _converter(f)) for f in per_row_defaults]
    tail = "\t" + text_row(constant_values) + "\n" if constant_values else "\n"
    columns = [f.column for f in varying_fields + per_row_defaults + constant_fields]
    quote = connection.ops.quote_name
    sql = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    n, lines = 0, []
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(sql) as copy:
            for row in rows:
                if convert_at:
                    row = list(row)
                    for i, convert in convert_at:
                        row[i] = convert(row[i])
                if default_makers:
                    row = [*row, *((c(make()) if c else make()) for make, c in default_makers)]
                lines.append(text_row(row) + tail)
                n += 1
                if len(lines) >= chunk_rows:
                    copy.write("".join(lines).encode())
                    lines = []
            if lines:
                copy.write("".join(lines).encode())
    return n
