"""Size caps on what clients and annotators may store: one module, one line per call site.

Every free-form input (project and task ``params``, ``metadata``, ``instruction(s)``, answers, tags)
has a cap set in settings, and a refusal is a 400 ``too_large`` naming the field, its size and the
cap (and the setting that raises it), so the client knows exactly what to shrink::

  {"error": {
    "code": "too_large",
    "message": "tasks[3].metadata: 70,012 bytes of JSON; the cap is 65,536 bytes (QUORUM_MAX_METADATA_BYTES)",
    "details": {"field": "metadata", "index": 3, "bytes": 70012, "max_bytes": 65536,
                "setting": "QUORUM_MAX_METADATA_BYTES"}}}

JSON sizes are the bytes of the compact UTF-8 encoding (what jsonb roughly stores); text sizes
are characters.

Project params are copied into every task created afterwards (the task keeps its effective
params, as Scale's task object does), so a small request could store the project's params ten
thousand times. ``BulkParamsTotal`` bounds that amplification: the effective params one bulk
request stores, summed over its tasks, may not pass ``QUORUM_MAX_BULK_PARAMS_BYTES`` (by default
the request-body cap, ``DATA_UPLOAD_MAX_MEMORY_SIZE``: a request stores at most what a request
could carry). A request that passes it fails whole: nothing it wrote is committed.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from core.errors import ValidationFailed
from core.jsontext import Encoded, compact_bytes


def json_bytes(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON."""
    return len(compact_bytes(value, str, allow_nan=True))


def _refuse(field: str, size: int, cap: int, setting: str, unit: str, index: int | None) -> ValidationFailed:
    where = f"tasks[{index}].{field}" if index is not None else field
    details: dict[str, Any] = {"field": field, unit: size, f"max_{unit}": cap, "setting": setting}
    if index is not None:
        details["index"] = index
    what = "bytes of JSON" if unit == "bytes" else "characters"
    return ValidationFailed(
        f"{where}: {size:,} {what}; the cap is {cap:,} {unit} ({setting})", code="too_large", details=details
    )


def check_json(value: Any, *, field: str, setting: str, index: int | None = None) -> int:
    """Refuse ``value`` when its JSON is over ``settings.<setting>`` bytes; return its size."""
    size = json_bytes(value)
    _within_cap(size, field=field, setting=setting, index=index)
    return size


def checked_json(value: Any, *, field: str, setting: str, index: int | None = None) -> Encoded:
    """``check_json`` that keeps the encoding, for a caller that writes the value next."""
    encoded = Encoded(value)  # no default=str: this text is written as it is
    _within_cap(encoded.nbytes, field=field, setting=setting, index=index)
    return encoded


def _within_cap(size: int, *, field: str, setting: str, index: int | None) -> None:
    cap = getattr(settings, setting)
    if size > cap:
        raise _refuse(field, size, cap, setting, "bytes", index)


def check_text(
    value: Any, *, field: str, setting: str = "QUORUM_MAX_TEXT_CHARS", index: int | None = None
) -> None:
    """Refuse a string longer than ``settings.<setting>`` characters (non-strings are left to the
    caller's own type check)."""
    cap = getattr(settings, setting)
    if isinstance(value, str) and len(value) > cap:
        raise _refuse(field, len(value), cap, setting, "characters", index)


def check_tags(tags: Any, *, index: int | None = None) -> None:
    if not isinstance(tags, list):
        return
    if len(tags) > settings.QUORUM_MAX_TAGS:
        where = f"tasks[{index}].tags" if index is not None else "tags"
        raise ValidationFailed(
            f"{where}: {len(tags):,} tags; the cap is {settings.QUORUM_MAX_TAGS} (QUORUM_MAX_TAGS)",
            code="too_large",
            details={
                "field": "tags",
                "index": index,
                "count": len(tags),
                "max_count": settings.QUORUM_MAX_TAGS,
            },
        )
    for tag in tags:
        check_text(tag, field="tags", setting="QUORUM_MAX_TAG_CHARS", index=index)


# --- the call sites' one-liners ----------------------------------------------------------------------


def check_project(values: dict) -> None:
    """A project's create or change (``params``, ``instructions``; absent keys are skipped)."""
    if "params" in values:
        check_json(values["params"], field="params", setting="QUORUM_MAX_PROJECT_PARAMS_BYTES")
    if "instructions" in values:
        check_text(values["instructions"], field="instructions")


def check_task_item(index: int, item: Any) -> dict[str, Encoded]:
    """One task spec of a bulk request (also a Scale ``create_task``): its own ``params``,
    ``metadata``, ``instruction``, ``tags`` and ``gold_answer`` (and that the objects are objects:
    ``[]`` used to pass as ``{}``). Returns the JSON values it encoded to measure them, by field."""
    if not isinstance(item, dict):
        return {}
    for field in ("params", "metadata", "gold_answer"):  # an empty list must not pass as {}
        if item.get(field) is not None and not isinstance(item[field], dict):
            raise ValidationFailed(
                f"tasks[{index}].{field}: must be an object", code="invalid_task",
                details={"index": index, "field": field},
            )  # fmt: skip
    encoded: dict[str, Encoded] = {}
    for field, setting in (
        ("params", "QUORUM_MAX_TASK_PARAMS_BYTES"),
        ("metadata", "QUORUM_MAX_METADATA_BYTES"),
    ):
        if item.get(field) is not None:
            encoded[field] = checked_json(item[field], field=field, setting=setting, index=index)
    check_text(item.get("instruction"), field="instruction", index=index)
    check_tags(item.get("tags"), index=index)
    if item.get("gold_answer") is not None:
        encoded["gold_answer"] = checked_json(
            item["gold_answer"], field="gold_answer", setting="QUORUM_MAX_ANSWER_BYTES", index=index
        )
    return encoded


class BulkParamsTotal:
    """The amplification cap: the effective params (project params overlaid by the task's) that
    one request would store, summed over its tasks, counted one task at a time (the import writes
    while it reads): ``add`` each task's size; ``refusal`` is the error naming the first task that
    passed the cap (None while none has)."""

    __slots__ = ("cap", "count", "refusal", "total")

    def __init__(self):
        self.cap, self.total, self.count, self.refusal = settings.QUORUM_MAX_BULK_PARAMS_BYTES, 0, 0, None

    def add(self, nbytes: int) -> None:
        self.total += nbytes
        self.count += 1
        if self.total > self.cap and self.refusal is None:
            cap, index = self.cap, self.count - 1
            self.refusal = ValidationFailed(
                f"tasks: the params these tasks would store (the project's params copied into each task, "
                f"overlaid by the task's own) pass {cap:,} bytes by task {index}; the cap per request "
                f"is {cap:,} bytes (QUORUM_MAX_BULK_PARAMS_BYTES): send fewer tasks per request, or "
                "smaller params",
                code="too_large",
                details={"field": "tasks", "index": index, "max_bytes": cap,
                         "setting": "QUORUM_MAX_BULK_PARAMS_BYTES"},
            )  # fmt: skip


def check_metadata(metadata: Any) -> None:
    check_json(metadata, field="metadata", setting="QUORUM_MAX_METADATA_BYTES")


def check_answer(answer: Any, *, field: str = "answer") -> None:
    check_json(answer, field=field, setting="QUORUM_MAX_ANSWER_BYTES")
