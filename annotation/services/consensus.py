"""Consensus orchestration: run the project's method on a task's answers, then ask for one more
answer (dynamic overlap), hold the task for review, or complete it; keep each annotator's
agreement and confusion counts current; recompute a whole project (batch Dawid-Skene), replacing
stored results. The methods themselves are pure functions in ``annotation.quality``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotation import quality, tasktypes
from annotation.models import ConfusionCount, Project, Review, Submission, Task, TaskType
from annotation.services import taxonomy_consensus, workforce
from clients import events
from clients.errors import ValidationFailed

# The prior on a stored confusion matrix: PRIOR_WEIGHT pseudo-answers per row shaped like
# ``quality.default_confusion`` (0.7 on the diagonal). An annotator seen a few times is pulled
# towards "right 70 % of the time", like a newcomer, not towards uniform (which would make one
# stored count weigh less than none), and never gets a 0/1 matrix.
PRIOR_WEIGHT = 4.0


def is_single_choice(task_type: str, params: dict) -> bool:
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
    counts = workforce.confusion_matrices(project_id=project_id, annotator_ids=annotator_ids, classes=classes)
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
    if taxonomy_consensus.is_taxonomy_task(task.task_type, params):
        return taxonomy_consensus.task_consensus(task, project, answers)
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
        delta = deltas.setdefault(annotator_id, workforce.WorkerDelta())
        delta.consensus_answers += 1
        delta.consensus_score += float(score)
        if single and "category" in response:
            pairs.append((annotator_id, response["category"], answer["category"]))
    pairs += taxonomy_consensus.confusion_pairs(task, answers, response)
    workforce.workers_apply(project=project, deltas=deltas, now=now)
    workforce.confusion_add(project_id=project.pk, pairs=pairs)


def settle(task: Task, *, actor: Any, now: datetime, complete) -> str:
    """All answers of the round are in: decide. Returns ``more`` (one more slot: confidence below
    the project's threshold and fewer answers than its max overlap), ``review`` (held for a
    reviewer: a sampled task or a low-confidence one, when the project reviews) or ``completed``.
    ``complete`` is ``tasks._complete``. Precondition: the task row is locked, ``task.project`` loaded."""
    project = task.project
    answers = round_answers(task)
    result = task_consensus(task, project, answers)
    confidence = result.confidence
    low = confidence is None or confidence < project.confidence_threshold
    if confidence is not None and low and task.overlap - task.round_offset < project.max_overlap:
        Task.objects.filter(pk=task.pk).update(overlap=F("overlap") + 1, updated_at=now)
        task.overlap += 1
        events.record(
            actor=actor,
            entity=task,
            kind="task.overlap_extended",
            before={"overlap": task.overlap - 1},
            after={
                "overlap": task.overlap,
                "confidence": confidence,
                "threshold": project.confidence_threshold,
            },
        )
        return "more"
    if project.review_enabled and (low or _sampled(task, project.review_share)):
        reason = Review.Reason.LOW_CONFIDENCE if low else Review.Reason.SAMPLE
        review = Review.objects.create(
            task=task,
            project=project,
            round=task.rework_round,
            reason=reason,
            response=result.response,
            confidence=confidence,
            created_at=now,
        )
        Task.objects.filter(pk=task.pk).update(in_review=True, updated_at=now)
        task.in_review = True
        events.record(
            actor=actor,
            entity=task,
            kind="task.review_queued",
            after={"review": str(review.pk), "reason": reason, "confidence": confidence},
        )
        return "review"
    complete(task, response=result.response, confidence=confidence, now=now, actor=actor)
    if not task.is_test:
        agreement_record(task=task, project=project, answers=answers, response=result.response, now=now)
    return "completed"


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
    tasks = list(
        Task.objects.select_for_update()
        .filter(project=project, status=Task.Status.COMPLETED, is_test=False, is_gold=False)
        .exclude(pk__in=fixed)
        .order_by("id")
        .only(
            "id", "params", "task_type", "rework_round", "response", "confidence", "client_id", "project_id"
        )
    )
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
    taxonomy_results, taxonomy_iterations = taxonomy_consensus.recompute(
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
    Task.objects.bulk_update(changed, ["response", "confidence", "updated_at"], batch_size=1000)
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
    soft = np.zeros((len(annotators), len(classes), len(classes)))
    np.add.at(soft, (np.asarray(w_idx), slice(None), np.asarray(l_idx)), fit.posteriors[np.asarray(t_idx)])
    ConfusionCount.objects.bulk_create(
        [
            ConfusionCount(
                project=project,
                annotator_id=a,
                true_label=classes[k],
                given=classes[j],
                count=float(soft[w, k, j]),
            )
            for a, w in worker_index.items()
            for k in range(len(classes))
            for j in range(len(classes))
            if soft[w, k, j] > 1e-9
        ],
        batch_size=2000,
    )
    return results, int(fit.iterations)
