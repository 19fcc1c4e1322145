"""Model pre-labels (``hypothesis``): a client's model output that starts the annotator off.

A task may carry a ``hypothesis`` in its task type's own answer shape (Scale's ``hypothesis``
field): image, video, LiDAR and NER tasks. It is checked exactly like an answer
(``tasktypes.check_answer``), stored on the task (``Task.hypothesis``), drawn as the starting state
in the workspace when the project's ``show_hypothesis`` is on, and never becomes an answer: it has
no Submission, so it is never counted in consensus, paid or scored.

How much of it the annotators kept is measured per project (``kept``): the final response scored
against the hypothesis with the task type's own gold scorer — IoU-matched F1 for image shapes,
track F1 for video, 3D IoU F1 for cuboids, exact-span F1 for NER — so 1.0 means the pre-label was
delivered unchanged and 0.0 that nothing of it survived.
"""

from __future__ import annotations

from typing import Any

from annotation import tasktypes
from annotation.models import Task
from core.errors import ValidationFailed

SUPPORTED = ("imageannotation", "videoannotation", "lidarannotation", "namedentityrecognition")

# Keys of Scale's image response that Quorum's answers do not have; accepted on /v1/ when empty.
SCALE_EMPTY_EXTRAS = {"links": [], "global_attributes": {}}


def check_hypothesis(task_type: str, params: dict, hypothesis: Any) -> None:
    """Raise ValidationFailed (field ``hypothesis…``) unless ``hypothesis`` is a valid answer of a
    task type that takes pre-labels."""
    if task_type not in SUPPORTED:
        raise ValidationFailed(
            f"hypothesis: {task_type} tasks take no pre-labels (supported: {', '.join(SUPPORTED)})",
            code="invalid_hypothesis",
            details={"field": "hypothesis"},
        )
    try:
        tasktypes.check_answer(task_type, params, hypothesis)
    except ValidationFailed as exc:
        field = (exc.details or {}).get("field", "answer")
        field = "hypothesis" if field == "answer" else f"hypothesis.{field}"
        message = exc.message.split(": ", 1)[-1] if ": " in exc.message else exc.message
        raise ValidationFailed(
            f"{field}: {message}", code="invalid_hypothesis", details={"field": field}
        ) from exc


def clean_item_hypothesis(index: int, task_type: str, params: dict, item: dict) -> dict | None:
    """The bulk-create hook: the item's ``hypothesis`` checked against the task's effective params
    (None when absent), or ValidationFailed naming ``tasks[i].hypothesis…``."""
    hypothesis = item.get("hypothesis")
    if hypothesis is None:
        return None
    try:
        check_hypothesis(task_type, params, hypothesis)
    except ValidationFailed as exc:
        field = exc.details["field"]
        raise ValidationFailed(
            f"tasks[{index}].{exc.message}",
            code=exc.code,
            details={"index": index, "field": field},
        ) from exc
    return hypothesis


def from_scale(hypothesis: Any) -> Any:
    """Scale's image ``hypothesis`` mirrors its response, which may carry empty ``links`` and
    ``global_attributes``: those are dropped; anything else is left for validation to judge."""
    if not isinstance(hypothesis, dict):
        return hypothesis
    return {k: v for k, v in hypothesis.items() if not (k in SCALE_EMPTY_EXTRAS and not v)}


def kept(task_type: str, params: dict, response: Any, hypothesis: Any) -> float | None:
    """How much of the hypothesis the final response kept, in [0, 1] (None when either is not a
    valid answer, e.g. a response of an older shape)."""
    try:
        tasktypes.check_answer(task_type, params, hypothesis)
        tasktypes.check_answer(task_type, params, _answer_only(task_type, response))
    except ValidationFailed:
        return None
    return tasktypes.score_gold(task_type, params, _answer_only(task_type, response), hypothesis)


def _answer_only(task_type: str, response: Any) -> Any:
    """A consensus response carries per-object ``confidence``; the answer shape has none."""
    if not isinstance(response, dict) or not isinstance(response.get("annotations"), list):
        return response
    return {
        "annotations": [
            {k: v for k, v in a.items() if k != "confidence"} if isinstance(a, dict) else a
            for a in response["annotations"]
        ]
    }


def workspace_hypothesis(*, task, project) -> dict | None:
    """What the annotator starts from: the hypothesis when the project shows it."""
    if task.hypothesis is None or not project.show_hypothesis:
        return None
    return task.hypothesis


def hypothesis_for_assignment(assignment) -> dict | None:
    """The pre-labels an annotator's API claim carries: one read, only for the task types that take
    them (the claim loads neither the hypothesis nor the project's setting)."""
    if assignment.task.task_type not in SUPPORTED:
        return None
    row = (
        Task.objects.filter(pk=assignment.task_id, project__show_hypothesis=True)
        .values_list("hypothesis", flat=True)
        .first()
    )
    return row
