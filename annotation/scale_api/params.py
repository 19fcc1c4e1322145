"""Reading what the SDK sends: query strings built by ``requests`` (booleans as ``True`` /
``False``, lists as repeated keys, ``None`` dropped) and JSON bodies that may be empty."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.utils.dateparse import parse_date, parse_datetime

from annotation import prelabels
from core.errors import ValidationFailed

MAX_PAGE = 100


def fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", code="invalid_parameter", details={"field": field})


def one(query, name: str) -> str | None:
    """The single value of ``name``; a repeated key is refused (it would be silently ambiguous)."""
    values = query.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise fail(name, "give it once")
    return values[0]


def many(query, name: str, *, comma: bool = False) -> list[str]:
    """Every value of ``name`` (repeated keys), also split on commas when ``comma``."""
    values = query.getlist(name)
    if comma:
        values = [part for value in values for part in value.split(",")]
    return [v.strip() for v in values if v.strip()]


def boolean(query, name: str, default: bool = False) -> bool:
    value = one(query, name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise fail(name, f"must be true or false, got {value!r}")


def integer(query, name: str, *, default: int, low: int, high: int | None = None) -> int:
    value = one(query, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise fail(name, f"must be an integer, got {value!r}") from exc
    if number < low or (high is not None and number > high):
        raise fail(
            name, f"must be between {low} and {high}" if high is not None else f"must be at least {low}"
        )
    return number


def timestamp(query, name: str) -> datetime | None:
    """ISO 8601 (``2026-01-02T03:04:05Z``), the SDK's ``YYYY-MM-DD HH:MM:SS.ffffff`` or a date;
    no offset means UTC."""
    value = one(query, name)
    if value is None:
        return None
    text = value.strip().replace("z", "Z")
    try:
        parsed = parse_datetime(text)
        if parsed is None:
            day = parse_date(text)
            parsed = datetime.combine(day, time.min) if day is not None else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise fail(name, f"must be an ISO 8601 date or time, got {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise fail(name, "is out of range") from exc


def _is_empty_body(data) -> bool:
    """DRF gives ``{}`` or an empty ``QueryDict`` when no body was sent."""
    return data is None or (not isinstance(data, list) and hasattr(data, "keys") and not data)


def body_object(data, what: str = "body") -> dict:
    """The JSON body as an object; an empty body (the SDK sends none for ``{}``) is ``{}``."""
    if _is_empty_body(data):
        return {}
    if not isinstance(data, dict):
        raise fail(what, "must be a JSON object")
    return dict(data)


def body_list(data, what: str = "tags") -> list:
    """The JSON body as an array; an empty body (the SDK sends none for ``[]``) is ``[]``."""
    if _is_empty_body(data):
        return []
    if not isinstance(data, list):
        raise fail(what, "the body must be a JSON array")
    return data


def string(body: dict, name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise fail(name, "required")
        return None
    if not isinstance(value, str):
        raise fail(name, "must be a string")
    return value


# Top-level keys of a Scale create body that are not type-specific; every other key is a param.
GENERAL_KEYS = frozenset(
    {"instruction", "callback_url", "metadata", "unique_id", "tags", "priority", "hypothesis"}
)
TARGET_KEYS = frozenset({"project", "batch", "params"})


def task_item(body: dict) -> dict:
    """A Scale create body as one item of ``task_bulk_create``: the general keys as they are, and
    every type-specific top-level key (``attachment``, ``geometries``, …) under ``params``, as
    Scale stores them. A nested ``params`` object is accepted too (top-level keys win)."""
    if not isinstance(body.get("metadata", {}), dict | None):
        raise fail("metadata", "must be an object")  # the bulk service would read an empty list as {}
    nested = body.get("params")
    if nested is not None and not isinstance(nested, dict):
        raise fail("params", "must be an object")
    params = {**(nested or {}), **{k: v for k, v in body.items() if k not in GENERAL_KEYS | TARGET_KEYS}}
    item = {**{k: body[k] for k in GENERAL_KEYS if body.get(k) is not None}, "params": params}
    if "hypothesis" in item:  # Scale's pre-labels: the response shape, checked like an answer
        item["hypothesis"] = prelabels.from_scale(item["hypothesis"])
    return item
