"""Consensus of one task's round in Python: run the project's method on the answers (the pure
methods live in ``annotation.quality`` and ``annotation.tasktypes``), and keep each annotator's
agreement and confusion counts current. ``complete.settle`` decides with it; ``quorum_submit`` does
the single-choice majority case in SQL (README.md in this folder says which runs where).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from annotation import quality, tasktypes
from annotation.lifecycle import standing, taxonomy
from annotation.lifecycle.standing import PRIOR_WEIGHT
from annotation.models import Project, Submission, Task, TaskType
from core.errors import ValidationFailed


def is_single_choice(task_type: str, params: dict) -> bool:
    """Legacy single-choice categorization (``categories``; ``taxonomies`` tasks are voted per question)."""
    return (
        task_type == TaskType.CATEGORIZATION and not params.get("allow_multiple") and "categories" in params
    )


def round_answers(task: Task) -> list[tuple[Any, dict]]:
    """(annotator id, answer) of the accepted answers of the task's current round, oldest first."""
    return list(
        Submission.objects.filter(task=task, status=Submission.Status.ACCEPTED, round=task.rework_round)
        .order_by("created_at", "id")
        .values_list("annotator_id", "answer")
    )


def stored_confusions(*, project_id, annotator_ids, classes) -> dict:
    """Each annotator's confusion matrix in the project (row-normalised, with the prior above),
    from the counts kept by gold answers, completions and batch recomputes; absent for newcomers
    (``dawid_skene_single`` then uses the default matrix itself)."""
    counts = standing.confusion_matrices(project_id=project_id, annotator_ids=annotator_ids, classes=classes)
    prior = PRIOR_WEIGHT * quality.default_confusion(len(classes))
    return {
        a: quality.confusion_from_counts(np.asarray(m, dtype=float) + prior, 0.0) for a, m in counts.items()
    }


def task_consensus(task: Task, project: Project, answers: list[tuple[Any, dict]]) -> quality.Aggregate:
    """The project's consensus method on these answers. Dawid-Skene (single-choice
    categorization) weighs each answer by the annotator's stored confusion matrix; every other
    method is the task type's own (``tasktypes.aggregate``: majority vote, geometry fusion,
    Borda / Bradley-Terry, span vote, per-field votes)."""
    params = task.params
    if taxonomy.is_taxonomy_task(task.task_type, params):
        return taxonomy.task_consensus(task, project, answers)
    if project.consensus_method == Project.Consensus.DAWID_SKENE and is_single_choice(task.task_type, params):
        classes = params["categories"]
        confusion = stored_confusions(
            project_id=project.pk, annotator_ids={a for a, _ in answers}, classes=classes
        )
        return quality.dawid_skene_single(
            [(a, ans["category"]) for a, ans in answers], classes=classes, confusion=confusion, key="category"
        )
    return tasktypes.aggregate(task.task_type, params, [ans for _, ans in answers])


def _sampled(task: Task, share: float) -> bool:
    """Deterministic sample: the same task is always in or out (the random tail of its UUIDv7)."""
    return share > 0 and (task.pk.int % 10_000) < share * 10_000


def agreement_record(
    *, task: Task, project: Project, answers: list[tuple[Any, dict]], response: dict, now: datetime
) -> None:
    """Each answer's agreement with the final response counts toward its annotator's standing;
    for single-choice work, also their confusion counts (truth = the response)."""
    deltas: dict = {}
    pairs = []
    single = is_single_choice(task.task_type, task.params)
    for annotator_id, answer in answers:
        try:
            score = tasktypes.score_gold(task.task_type, task.params, answer, response)
        except (KeyError, TypeError, ValueError, ValidationFailed):
            score = None  # the response is not shaped like an answer (e.g. collected free text)
        if score is None:
            continue
        delta = deltas.setdefault(annotator_id, standing.WorkerDelta())
        delta.consensus_answers += 1
        delta.consensus_score += float(score)
        if single and "category" in response:
            pairs.append((annotator_id, response["category"], answer["category"]))
    pairs += taxonomy.confusion_pairs(task, answers, response)
    standing.workers_apply(project=project, deltas=deltas, now=now)
    standing.confusion_add(project_id=project.pk, pairs=pairs)
