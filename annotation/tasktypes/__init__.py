"""Task types: in one place per type (one module each), the schema of its ``params``, the schema
of its answer, its gold scorer and how several answers become one response.

A task's effective params are the project's params overlaid with the task's own (Scale puts
everything in the task; Quorum also lets a project hold the label schema once). Schemas are
JSON Schema (draft 2020-12) checked with ``jsonschema``; semantic rules a schema cannot say (a
label must be one of the project's classes, a ranking a permutation of the responses) are checked
in Python. Every error names the offending field, e.g. ``params.geometries.box.min_width`` or
``annotations[0].label``. The scorers and consensus methods are pure functions in
``annotation.quality``.
"""

from __future__ import annotations

from typing import Any

from annotation import quality
from annotation.tasktypes import (
    attachments,
    categorization,
    comparison,
    imageannotation,
    lidarannotation,
    namedentityrecognition,
    textcollection,
    videoannotation,
)
from annotation.tasktypes._common import TaskTypeSpec, validate
from core import limits
from core.errors import ValidationFailed

TASK_TYPES: dict[str, TaskTypeSpec] = {
    module.SPEC.name: module.SPEC
    for module in (
        categorization,
        imageannotation,
        lidarannotation,
        videoannotation,
        comparison,
        textcollection,
        namedentityrecognition,
    )
}

__all__ = [
    "TASK_TYPES",
    "TaskTypeSpec",
    "aggregate",
    "check_answer",
    "check_params",
    "check_project_params",
    "effective_params",
    "example_answer",
    "score_gold",
    "spec_for",
    "supported_types",
]


def supported_types() -> list[str]:
    return sorted(TASK_TYPES)


def spec_for(task_type: str) -> TaskTypeSpec:
    try:
        return TASK_TYPES[task_type]
    except KeyError as exc:
        raise ValidationFailed(
            f"task_type: {task_type!r} is not supported; supported types: {', '.join(supported_types())}",
            code="unsupported_task_type",
            details={"field": "task_type"},
        ) from exc


def effective_params(project_params: dict, task_params: dict | None) -> dict:
    return {**(project_params or {}), **(task_params or {})}


def check_params(task_type: str, params: Any, *, prefix: str = "params") -> None:
    """A task's complete (effective) params."""
    spec = spec_for(task_type)
    if not isinstance(params, dict):
        raise ValidationFailed(
            f"{prefix}: must be an object", code="invalid_params", details={"field": prefix}
        )
    _validate(spec.params_schema, params, prefix=prefix)
    attachments.check_attachment_urls(task_type, params, prefix=prefix)
    spec.check_complete_params(params)
    spec.check_params(params)


def check_project_params(task_type: str, params: Any) -> None:
    """A project's params are a partial schema: validate only the keys it sets."""
    spec = spec_for(task_type)
    if not isinstance(params, dict):
        raise ValidationFailed(
            "params: must be an object", code="invalid_params", details={"field": "params"}
        )
    _validate({**spec.params_schema, "required": []}, params, prefix="params")
    attachments.check_attachment_urls(task_type, params)
    spec.check_params(params)


def _validate(schema: dict, params: dict, *, prefix: str) -> None:
    validate(schema, params, what=prefix, code="invalid_params", prefix=prefix)


def check_answer(task_type: str, params: dict, answer: Any) -> None:
    if not isinstance(answer, dict):
        raise ValidationFailed(
            "answer: must be an object", code="invalid_answer", details={"field": "answer"}
        )
    limits.check_answer(answer)
    spec_for(task_type).check_answer(params, answer)


def aggregate(task_type: str, params: dict, answers: list) -> quality.Aggregate:
    return spec_for(task_type).aggregate(params, answers)


def score_gold(task_type: str, params: dict, answer: dict, gold: dict) -> float | None:
    """How well ``answer`` matches the gold answer, in [0, 1]; None where the type (or this form)
    has nothing that can be scored automatically (free text). Both must be valid answers."""
    return spec_for(task_type).score_gold(params, answer, gold)


def example_answer(task_type: str, params: dict) -> dict:
    return spec_for(task_type).example_answer(params)
