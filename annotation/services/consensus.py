"""Consensus of a whole project: recompute every completed task's result with the project's method
(batch Dawid-Skene), replacing stored results. One task's consensus at completion lives in the
lifecycle (``annotation.lifecycle.consensus``, ``complete.settle``); its names stay importable here.
The methods themselves are pure functions in ``annotation.quality``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from annotation import quality, tasktypes
from annotation.lifecycle import complete, standing, taxonomy
from annotation.lifecycle.consensus import (  # noqa: F401 - the public surface stays here
    agreement_record,
    is_single_choice,
    round_answers,
    stored_confusions,
    task_consensus,
)
from annotation.models import ConfusionCount, Project, Review, Submission, Task
from core import events
from core.errors import ValidationFailed

# --- batch recompute -----------------------------------------------------------------------------------


@transaction.atomic
def project_consensus_recompute(*, project: Project, actor: Any, method: str | None = None) -> dict:
    """Recompute the consensus of every completed task of the project with its method (or
    ``method``), replacing each stored response and confidence — never appending — and, for
    Dawid-Skene, replacing the project's confusion counts with the fitted ones (warm-started from
    the stored counts). Tasks a reviewer fixed keep the reviewer's answer. Returns a summary.
    Precondition: none; locks the project's completed live tasks."""
    method = method or project.consensus_method
    if method not in Project.Consensus.values:
        raise ValidationFailed(
            f"method: must be one of {', '.join(Project.Consensus.values)}",
            code="invalid_consensus_method",
            details={"field": "method"},
        )
    now = timezone.now()
    fixed = Review.objects.filter(project=project, verdict=Review.Verdict.FIX).values("task_id")
    tasks = complete.lock_completed_tasks(project=project, exclude=fixed)
    by_task: dict = {t.pk: [] for t in tasks}
    rows = (
        Submission.objects.filter(task__in=tasks, status=Submission.Status.ACCEPTED)
        .values_list("task_id", "round", "annotator_id", "answer")
        .order_by("created_at", "id")
    )
    rounds = {t.pk: t.rework_round for t in tasks}
    for task_id, round_, annotator_id, answer in rows.iterator(chunk_size=5000):
        if round_ == rounds[task_id]:
            by_task[task_id].append((annotator_id, answer))
    results: dict = {}
    iterations = None
    single = [t for t in tasks if is_single_choice(t.task_type, t.params) and by_task[t.pk]]
    if method == Project.Consensus.DAWID_SKENE and single:
        results, iterations = _dawid_skene_batch(project, single, by_task)
    taxonomy_results, taxonomy_iterations = taxonomy.recompute(
        project=project, tasks=tasks, by_task=by_task, method=method
    )
    results, iterations = {**results, **taxonomy_results}, iterations or taxonomy_iterations
    for task in tasks:
        if task.pk not in results and by_task[task.pk]:
            if method == Project.Consensus.MAJORITY and is_single_choice(task.task_type, task.params):
                votes = [a["category"] for _, a in by_task[task.pk]]
                results[task.pk] = quality.majority_vote(
                    votes, order=task.params["categories"], key="category"
                )
            else:
                results[task.pk] = tasktypes.aggregate(
                    task.task_type, task.params, [a for _, a in by_task[task.pk]]
                )
    changed = []
    for task in tasks:
        result = results.get(task.pk)
        if result is None or (result.response == task.response and result.confidence == task.confidence):
            continue
        changed.append(
            Task(pk=task.pk, response=result.response, confidence=result.confidence, updated_at=now)
        )
    complete.replace_results(changed)
    summary = {"method": method, "tasks": len(tasks), "changed": len(changed), "iterations": iterations}
    events.record(actor=actor, entity=project, kind="project.consensus_recomputed", after=summary)
    return summary


def _dawid_skene_batch(project: Project, tasks: list[Task], by_task: dict) -> tuple[dict, int]:
    """One EM fit over the project's single-choice tasks. Tasks whose category lists differ are
    fitted over the union of labels (a label outside a task's list never wins it: the fitted
    posterior is restricted to the task's own categories)."""
    classes: list[str] = []
    for task in tasks:
        for c in task.params["categories"]:
            if c not in classes:
                classes.append(c)
    index = {c: i for i, c in enumerate(classes)}
    annotators = sorted({a for t in tasks for a, _ in by_task[t.pk]}, key=str)
    worker_index = {a: i for i, a in enumerate(annotators)}
    t_idx, w_idx, l_idx = [], [], []
    for i, task in enumerate(tasks):
        for annotator_id, answer in by_task[task.pk]:
            t_idx.append(i)
            w_idx.append(worker_index[annotator_id])
            l_idx.append(index[answer["category"]])
    stored = stored_confusions(project_id=project.pk, annotator_ids=annotators, classes=classes)
    init = None
    if stored:
        default = quality.default_confusion(len(classes))  # the same prior dawid_skene_single gives newcomers
        init = np.stack([stored.get(a, default) for a in annotators])
    fit = quality.dawid_skene(
        np.asarray(t_idx),
        np.asarray(w_idx),
        np.asarray(l_idx),
        n_tasks=len(tasks),
        n_workers=len(annotators),
        n_classes=len(classes),
        init_confusion=init,
    )
    results = {}
    for i, task in enumerate(tasks):
        allowed = [index[c] for c in task.params["categories"]]
        post = fit.posteriors[i][allowed]
        total = float(post.sum())
        best = int(np.argmax(post))
        confidence = float(post[best] / total) if total > 0 else None
        results[task.pk] = quality.Aggregate({"category": task.params["categories"][best]}, confidence)
    # Replace the project's confusion counts with the fitted soft counts (expected (truth, given) pairs).
    ConfusionCount.objects.filter(project=project, annotator_id__in=annotators).delete()
    standing.confusion_store_fitted(
        project=project,
        worker_index=worker_index,
        labels=classes,
        w_idx=w_idx,
        l_idx=l_idx,
        answer_posteriors=fit.posteriors[np.asarray(t_idx)],
    )
    return results, int(fit.iterations)
