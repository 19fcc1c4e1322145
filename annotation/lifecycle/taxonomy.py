"""Consensus of ``taxonomies`` categorization tasks with the project's method, per question.

``majority`` / ``auto``: the task type's own vote per question (``annotation.quality.taxonomies``).
``dawid_skene``: every single-choice question is a categorical problem of its own, with its own
confusion matrix per annotator (an annotator may be reliable on "harmful?" and careless on
"helpful?"). The matrices live in ``ConfusionCount`` like the legacy form's, with labels namespaced
by question (``label_for``), so the live posterior at submit time, the counts kept from gold
answers and completions, and the batch refit (``recompute``) all work per question. Multiple-choice
questions are voted label by label in every method.

Called from ``annotation.lifecycle.consensus`` and ``submit``, and from the project recompute in
``annotation.services.consensus``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from annotation import quality
from annotation.lifecycle import standing
from annotation.models import ConfusionCount, Project, Task, TaskType
from annotation.quality import taxonomies as tx

SEPARATOR = "\x1f"  # never in a key or a label (the params schema refuses control characters)
LABEL_MAX = 200  # ConfusionCount.true_label / given


def is_taxonomy_task(task_type: str, params: dict) -> bool:
    return task_type == TaskType.CATEGORIZATION and "taxonomies" in (params or {})


def label_for(key: str, label: str) -> str:
    """The ``ConfusionCount`` label of ``label`` in question ``key``; a hash when too long."""
    out = f"{key}{SEPARATOR}{label}"
    if len(out) > LABEL_MAX:
        out = f"{key}{SEPARATOR}#{hashlib.sha256(label.encode()).hexdigest()}"
    return out


def _stored(project_id, annotator_ids, question: tx.Question) -> dict:
    classes = [label_for(question.key, leaf) for leaf in question.leaves]
    counts = standing.confusion_matrices(project_id=project_id, annotator_ids=annotator_ids, classes=classes)
    prior = standing.PRIOR_WEIGHT * quality.default_confusion(len(classes))  # as the legacy form's
    return {
        a: quality.confusion_from_counts(np.asarray(m, dtype=float) + prior, 0.0) for a, m in counts.items()
    }


def task_consensus(task: Task, project: Project, answers: list[tuple[Any, dict]]) -> quality.Aggregate:
    """The consensus of one task's ``(annotator id, answer)`` pairs with the project's method."""
    taxonomies = task.params["taxonomies"]
    if project.consensus_method != Project.Consensus.DAWID_SKENE:
        return tx.consensus(taxonomies, answers)

    def single(question: tx.Question, votes: list[tuple[Any, str]]) -> quality.Aggregate:
        confusion = _stored(project.pk, {a for a, _ in votes}, question)
        return quality.dawid_skene_single(
            votes, classes=question.leaves, confusion=confusion, key=question.key
        )

    return tx.consensus(taxonomies, answers, single=single)


def confusion_pairs(
    task: Task, answers: list[tuple[Any, dict]], response: dict
) -> list[tuple[Any, str, str]]:
    """``(annotator, truth, given)`` per single-choice question both the response and the answer
    hold: the counts a completion adds to each annotator's per-question confusion matrix."""
    if not is_taxonomy_task(task.task_type, task.params) or not isinstance(response, dict):
        return []
    truth = response.get("taxonomies") or {}
    out = []
    for key, spec in task.params["taxonomies"].items():
        if spec.get("allow_multiple") or not truth.get(key):
            continue
        for annotator_id, answer in answers:
            given = (answer.get("taxonomies") or {}).get(key)
            if given:
                out.append((annotator_id, label_for(key, truth[key][0]), label_for(key, given[0])))
    return out


def gold_confusion_add(*, project_id, annotator_id, task: Task, answer: dict) -> None:
    """A gold answer's per-question confusion counts (truth = the gold answer)."""
    pairs = confusion_pairs(task, [(annotator_id, answer)], task.gold_answer or {})
    if pairs:
        standing.confusion_add(project_id=project_id, pairs=pairs)


def recompute(*, project: Project, tasks: list[Task], by_task: dict, method: str) -> tuple[dict, int | None]:
    """Batch consensus of the project's completed taxonomy tasks: ``({task id: Aggregate},
    iterations)``. With Dawid-Skene, one EM fit per single-choice question over every task that
    has answers to it (warm-started from the stored matrices), whose fitted soft counts replace
    that question's stored counts; the response of each task is then composed question by
    question in dependency order, as live."""
    mine = [t for t in tasks if is_taxonomy_task(t.task_type, t.params) and by_task.get(t.pk)]
    if not mine:
        return {}, None
    if method != Project.Consensus.DAWID_SKENE:
        return {t.pk: tx.consensus(t.params["taxonomies"], by_task[t.pk]) for t in mine}, None
    posteriors: dict[tuple, quality.Aggregate] = {}  # (task id, key) → the fitted result
    iterations = 0
    keys = sorted(
        {k for t in mine for k, spec in t.params["taxonomies"].items() if not spec.get("allow_multiple")}
    )
    for key in keys:
        fitted, its = _fit_question(project, key, mine, by_task)
        posteriors.update(fitted)
        iterations = max(iterations, its)
    results = {}
    for task in mine:

        def single(question: tx.Question, votes, task_id=task.pk):
            return posteriors.get((task_id, question.key))

        results[task.pk] = tx.consensus(task.params["taxonomies"], by_task[task.pk], single=single)
    return results, iterations


def _fit_question(project: Project, key: str, tasks: list[Task], by_task: dict) -> tuple[dict, int]:
    rows = []  # (task index, annotator, label)
    fitted_tasks: list[Task] = []
    leaves_by_task = {}
    for task in tasks:
        spec = task.params["taxonomies"].get(key)
        if spec is None or spec.get("allow_multiple"):
            continue
        votes = [(a, (ans.get("taxonomies") or {}).get(key)) for a, ans in by_task[task.pk]]
        votes = [(a, v[0]) for a, v in votes if v]
        if not votes:
            continue
        leaves_by_task[task.pk] = [label for label, _, leaf in tx.walk(spec["choices"]) if leaf]
        for a, v in votes:
            rows.append((len(fitted_tasks), a, v))
        fitted_tasks.append(task)
    if not fitted_tasks:
        return {}, 0
    classes: list[str] = []
    for task in fitted_tasks:
        for leaf in leaves_by_task[task.pk]:
            if leaf not in classes:
                classes.append(leaf)
    index = {c: i for i, c in enumerate(classes)}
    annotators = sorted({a for _, a, _ in rows}, key=str)
    worker_index = {a: i for i, a in enumerate(annotators)}
    t_idx = np.asarray([r[0] for r in rows])
    w_idx = np.asarray([worker_index[r[1]] for r in rows])
    l_idx = np.asarray([index[r[2]] for r in rows])
    names = [label_for(key, c) for c in classes]
    stored = _stored(project.pk, annotators, tx.Question(key, tuple(classes), {}, False, None, frozenset()))
    init = None
    if stored:
        default = quality.default_confusion(len(classes))
        init = np.stack([stored.get(a, default) for a in annotators])
    fit = quality.dawid_skene(
        t_idx,
        w_idx,
        l_idx,
        n_tasks=len(fitted_tasks),
        n_workers=len(annotators),
        n_classes=len(classes),
        init_confusion=init,
    )
    out = {}
    for i, task in enumerate(fitted_tasks):
        allowed = [index[c] for c in leaves_by_task[task.pk]]
        post = fit.posteriors[i][allowed]
        total = float(post.sum())
        best = int(np.argmax(post))
        confidence = float(post[best] / total) if total > 0 else None
        out[(task.pk, key)] = quality.Aggregate({key: leaves_by_task[task.pk][best]}, confidence)
    # This question's stored counts become the fitted soft counts (expected (truth, given) pairs).
    ConfusionCount.objects.filter(project=project, annotator_id__in=annotators, true_label__in=names).delete()
    standing.confusion_store_fitted(
        project=project,
        worker_index=worker_index,
        labels=names,
        w_idx=w_idx,
        l_idx=l_idx,
        answer_posteriors=fit.posteriors[t_idx],
    )
    return out, int(fit.iterations)
