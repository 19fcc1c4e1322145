"""Each annotator's standing in a project (``ProjectWorker``): the counters that answers move
(gold, agreement, flags, confusion counts) and the rules they trigger — the gold rule removes an
annotator from a project, the anti-fraud rule suspends them there, and barred from
``QUORUM_SUSPEND_AFTER_BARS`` projects they are suspended platform-wide. A bar gives back the
annotator's live leases in the project at once.

Lock order: standings in ascending annotator id, after the task row (submit, review verdict); a
bar locks the standing first, then the annotator's leases with ``SKIP LOCKED``, then their tasks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from annotation.lifecycle import leases
from annotation.models import Annotator, ConfusionCount, Project, ProjectWorker
from core import events
from core.transactions import after_commit

# The prior on a stored confusion matrix (legacy categorization and every taxonomy question):
# PRIOR_WEIGHT pseudo-answers per row shaped like ``quality.default_confusion`` (0.7 on the
# diagonal). An annotator seen a few times is pulled towards "right 70 % of the time", like a
# newcomer, not towards uniform (which would make one stored count weigh less than none), and never
# gets a 0/1 matrix.
PRIOR_WEIGHT = 4.0

MAX_REASON = 300


def worker_bar(
    *, project: Project, annotator_id, status: str, reason: str, actor: Any, now: datetime | None = None
) -> bool:
    """Remove or suspend an annotator from one project (a rule or staff) and give back their live
    leases there. Returns False if they were not active there. Precondition: in a transaction.

    The standing row is locked first; a claim locks it too (``assignment.worker_gate``), so a
    claim either finished before (its lease is released here) or sees the new standing."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        worker_id, before, _, _ = leases.worker_gate(
            cursor, project_id=project.pk, annotator_id=annotator_id, now=now
        )
    if before != ProjectWorker.Status.ACTIVE:
        return False
    ProjectWorker.objects.filter(pk=worker_id).update(
        status=status, reason=reason[:MAX_REASON], updated_at=now
    )
    released = leases.release_live_leases(
        annotator_id=annotator_id, project_id=project.pk, actor=actor, now=now
    )
    events.record(
        actor=actor,
        entity=ProjectWorker(pk=worker_id),
        kind=f"project_worker.{status}",
        before={"status": before},
        after={
            "status": status,
            "reason": reason,
            "project": str(project.pk),
            "annotator": str(annotator_id),
            "leases_released": released,
        },
        client_id=project.client_id,
    )
    # The platform-wide rule runs in its own transaction after this one commits: it takes the
    # annotator row lock first, as claims do, which this transaction (holding the standing row) must not.
    after_commit(annotator_rules_apply, annotator_id=annotator_id)
    return True


@transaction.atomic
def annotator_rules_apply(*, annotator_id) -> bool:
    """The platform-wide rule: removed or suspended from ``QUORUM_SUSPEND_AFTER_BARS`` projects →
    the annotator is suspended (staff may restore them). Returns True if it suspended them."""
    limit = settings.QUORUM_SUSPEND_AFTER_BARS
    annotator = Annotator.objects.select_for_update(no_key=True).filter(pk=annotator_id).first()
    if not limit or annotator is None or annotator.status != Annotator.Status.ACTIVE:
        return False
    barred = (
        ProjectWorker.objects.filter(annotator_id=annotator_id)
        .exclude(status=ProjectWorker.Status.ACTIVE)
        .count()
    )
    if barred < limit:
        return False
    annotator.status = Annotator.Status.SUSPENDED
    annotator.save(update_fields=["status"])
    released = leases.release_live_leases(annotator_id=annotator_id, actor="system:rules", now=timezone.now())
    events.record(
        actor="system:rules",
        entity=annotator,
        kind="annotator.status_changed",
        before={"status": "active"},
        after={
            "status": "suspended",
            "reason": f"barred from {barred} projects (limit {limit})",
            "leases_released": released,
        },
        client_id=None,
    )
    return True


@dataclass
class WorkerDelta:
    """What one answer adds to an annotator's standing in a project."""

    gold_answers: int = 0
    gold_score: float = 0.0
    consensus_answers: int = 0
    consensus_score: float = 0.0
    flags: int = 0


WORKER_DELTA_SQL = """
UPDATE annotation_projectworker
   SET gold_answers = gold_answers + %(gold_answers)s, gold_score = gold_score + %(gold_score)s,
       consensus_answers = consensus_answers + %(consensus_answers)s,
       consensus_score = consensus_score + %(consensus_score)s, flags = flags + %(flags)s,
       updated_at = %(now)s
 WHERE project_id = %(project_id)s AND annotator_id = %(annotator_id)s
RETURNING status, gold_answers, gold_score, flags
"""


def workers_apply(*, project: Project, deltas: dict, now: datetime) -> dict:
    """Add ``deltas`` ({annotator_id: WorkerDelta}) to the standings, in ascending annotator id (the
    lock order), then apply the rules to each changed standing: gold accuracy below the project's
    threshold after ``gold_min_answers`` → removed; ``fraud_flag_limit`` flags → suspended.
    Returns {annotator_id: new status}. Precondition: in a transaction, after the task row lock."""
    outcome = {}
    with connection.cursor() as cursor:
        rows = {}
        for annotator_id in sorted(deltas, key=str):
            delta = deltas[annotator_id]
            cursor.execute(
                WORKER_DELTA_SQL,
                {**delta.__dict__, "now": now, "project_id": project.pk, "annotator_id": annotator_id},
            )
            row = cursor.fetchone()
            if row is not None:
                rows[annotator_id] = row
    for annotator_id, (status, gold_answers, gold_score, flags) in rows.items():
        outcome[annotator_id] = status
        if status != ProjectWorker.Status.ACTIVE:
            continue
        threshold = project.gold_accuracy_threshold
        if deltas[annotator_id].flags and project.fraud_flag_limit and flags >= project.fraud_flag_limit:
            reason = (
                f"{flags} answers faster than {project.min_answer_ms} ms (limit {project.fraud_flag_limit})"
            )
            worker_bar(
                project=project,
                annotator_id=annotator_id,
                status=ProjectWorker.Status.SUSPENDED,
                reason=reason,
                actor="system:anti-fraud",
                now=now,
            )
            outcome[annotator_id] = ProjectWorker.Status.SUSPENDED
        elif (
            deltas[annotator_id].gold_answers
            and threshold > 0
            and gold_answers >= project.gold_min_answers
            and gold_score / gold_answers < threshold
        ):
            reason = (
                f"gold accuracy {gold_score / gold_answers:.3f} below {threshold} "
                f"after {gold_answers} gold answers"
            )
            worker_bar(
                project=project,
                annotator_id=annotator_id,
                status=ProjectWorker.Status.REMOVED,
                reason=reason,
                actor="system:gold-rule",
                now=now,
            )
            outcome[annotator_id] = ProjectWorker.Status.REMOVED
    return outcome


CONFUSION_SQL = """
INSERT INTO annotation_confusioncount (project_id, annotator_id, true_label, given, count)
VALUES {values}
ON CONFLICT (project_id, annotator_id, true_label, given)
DO UPDATE SET count = annotation_confusioncount.count + EXCLUDED.count
"""


def confusion_add(*, project_id, pairs: Sequence[tuple[Any, str, str]]) -> None:
    """Count (annotator, true label, given label) observations; rows in sorted order (lock order)."""
    counts: dict = {}
    for annotator_id, true_label, given in pairs:
        key = (str(annotator_id), str(true_label)[:200], str(given)[:200])
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return
    keys = sorted(counts)
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(keys))
    params = [v for key in keys for v in (project_id, key[0], key[1], key[2], float(counts[key]))]
    with connection.cursor() as cursor:
        cursor.execute(CONFUSION_SQL.format(values=values), params)


def confusion_store_fitted(
    *, project: Project, worker_index: dict, labels: Sequence[str], w_idx, l_idx, answer_posteriors
) -> None:
    """Store the soft counts of a Dawid-Skene fit as the annotators' confusion counts: for each
    answer (annotator ``w_idx[i]`` gave label ``l_idx[i]``), its task's posterior over the true
    labels is added to that annotator's (truth, given) counts. The caller deletes the rows these
    replace. ``labels[k]`` names class k; ``worker_index`` maps annotator id to row."""
    n = len(labels)
    soft = np.zeros((len(worker_index), n, n))
    np.add.at(soft, (np.asarray(w_idx), slice(None), np.asarray(l_idx)), answer_posteriors)
    ConfusionCount.objects.bulk_create(
        [
            ConfusionCount(
                project=project,
                annotator_id=a,
                true_label=labels[k],
                given=labels[j],
                count=float(soft[w, k, j]),
            )
            for a, w in worker_index.items()
            for k in range(n)
            for j in range(n)
            if soft[w, k, j] > 1e-9
        ],
        batch_size=2000,
    )


def confusion_matrices(*, project_id, annotator_ids, classes: Sequence[str]) -> dict:
    """{annotator_id: K×K list of counts (rows = truth, columns = given)} for those who have any."""
    index = {c: i for i, c in enumerate(classes)}
    out: dict = {}
    rows = ConfusionCount.objects.filter(
        project_id=project_id, annotator_id__in=list(annotator_ids)
    ).values_list("annotator_id", "true_label", "given", "count")
    for annotator_id, true_label, given, count in rows:
        if true_label in index and given in index:
            matrix = out.setdefault(annotator_id, [[0.0] * len(classes) for _ in classes])
            matrix[index[true_label]][index[given]] += count
    return out
