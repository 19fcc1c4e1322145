"""Reads for quality and the workforce: a project's agreement figures and per-annotator
statistics (pseudonymous for clients), an annotator's own figures, the qualifications open to an
annotator, the review queue depth. Visibility: the caller passes the project it may see
(``selectors.project_get_for_client`` for clients; staff see any)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from django.db.models import Avg, Count, Q

from annotation import prelabels, quality
from annotation.models import (
    Annotator,
    AnnotatorQualification,
    Project,
    ProjectWorker,
    Qualification,
    QualificationAttempt,
    Review,
    Submission,
    Task,
    TaskType,
)
from annotation.selectors import _get

# Agreement is computed over the most recent completed tasks (a bounded read, whatever the size).
AGREEMENT_SAMPLE = 5000


def pseudonym(project_id, annotator_id) -> str:
    """A stable per-project name for an annotator, shown to clients instead of their identity."""
    digest = hashlib.sha256(f"{project_id}:{annotator_id}".encode()).hexdigest()[:10]
    return f"annotator-{digest}"


def _values_by_task(project: Project, task_ids: list) -> dict:
    """{task_id: {annotator_id: answer}} of the accepted answers of each task's current round."""
    rounds = dict(Task.objects.filter(pk__in=task_ids).values_list("id", "rework_round"))
    out: dict = {t: {} for t in task_ids}
    rows = Submission.objects.filter(task_id__in=task_ids, status=Submission.Status.ACCEPTED).values_list(
        "task_id", "round", "annotator_id", "answer"
    )
    for task_id, round_, annotator_id, answer in rows.iterator(chunk_size=5000):
        if rounds.get(task_id) == round_:
            out[task_id][annotator_id] = answer
    return out


def _alpha(by_task: dict, extract, level: str) -> dict:
    units = []
    for answers in by_task.values():
        values = [extract(a) for a in answers.values()]
        units.append([v for v in values if v is not None])
    alpha = quality.krippendorff_alpha(units, level)
    pairable = sum(1 for u in units if len(u) >= 2)
    return {"alpha": alpha, "level": level, "units": pairable}


def _first(answer: dict, key: str):
    values = (answer.get("taxonomies") or {}).get(key) if isinstance(answer, dict) else None
    return values[0] if isinstance(values, list) and values else None


def project_agreement(project: Project) -> dict[str, Any]:
    """Krippendorff's alpha over the project's most recent completed tasks: nominal for categories
    and pairwise choices, interval for Likert strengths and numeric form fields. Geometry, spans
    and free text have no alpha here (their agreement is each annotator's mean score against the
    consensus, in the per-annotator figures)."""
    task_ids = list(
        Task.objects.filter(project=project, status=Task.Status.COMPLETED, is_test=False, is_gold=False)
        .order_by("-completed_at")
        .values_list("id", flat=True)[:AGREEMENT_SAMPLE]
    )
    by_task = _values_by_task(project, task_ids)
    params = project.params or {}
    out: dict[str, Any] = {"tasks": len(task_ids)}
    if project.task_type == TaskType.CATEGORIZATION and isinstance(params.get("taxonomies"), dict):
        for key, spec in params["taxonomies"].items():  # nominal alpha per single-choice question
            if isinstance(spec, dict) and not spec.get("allow_multiple"):
                out[f"taxonomies.{key}"] = _alpha(by_task, lambda a, k=key: _first(a, k), "nominal")
    elif project.task_type == TaskType.CATEGORIZATION and not params.get("allow_multiple"):
        out["category"] = _alpha(by_task, lambda a: a.get("category"), "nominal")
    elif project.task_type == TaskType.COMPARISON and params.get("mode") != "ranking":
        out["choice"] = _alpha(by_task, lambda a: a.get("choice"), "nominal")
        out["strength"] = _alpha(by_task, lambda a: a.get("strength"), "interval")
    elif project.task_type == TaskType.TEXT_COLLECTION:
        for field in params.get("fields", []):
            if field.get("type") in ("number", "rating"):
                key = field.get("field_id") or field.get("id") or field.get("name")
                out[f"fields.{key}"] = _alpha(
                    by_task,
                    lambda a, k=key: (
                        (a.get("fields") or a).get(k) if isinstance(a.get("fields") or a, dict) else None
                    ),
                    "interval",
                )
            elif field.get("type") == "category":
                key = field.get("field_id") or field.get("id") or field.get("name")
                out[f"fields.{key}"] = _alpha(
                    by_task,
                    lambda a, k=key: (
                        (a.get("fields") or a).get(k) if isinstance(a.get("fields") or a, dict) else None
                    ),
                    "nominal",
                )
    return out


def _worker_row(worker: ProjectWorker, *, reveal: bool, answers: dict) -> dict:
    counts = answers.get(worker.annotator_id, {})
    row = {
        "annotator": str(worker.annotator_id)
        if reveal
        else pseudonym(worker.project_id, worker.annotator_id),
        "status": worker.status,
        "answers": counts.get("accepted", 0),
        "rejected": counts.get("rejected", 0),
        "flagged": worker.flags,
        "gold_answers": worker.gold_answers,
        "gold_accuracy": worker.gold_accuracy,
        "agreement": worker.agreement,
        "agreement_answers": worker.consensus_answers,
    }
    if reveal:
        row["reason"] = worker.reason
    return row


def project_quality(*, project: Project, reveal_annotators: bool = False) -> dict[str, Any]:
    """The project's quality at a glance: tasks by status, review queue, confidence, agreement
    (Krippendorff's alpha) and per-annotator figures. Clients see pseudonyms; staff see ids."""
    tasks = Task.objects.filter(project=project, is_test=False)
    by_status = dict(
        tasks.filter(is_gold=False).values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    completed = tasks.filter(status=Task.Status.COMPLETED, is_gold=False)
    answers: dict = {}
    for annotator_id, status, n in (
        Submission.objects.filter(task__project=project, task__is_test=False)
        .values_list("annotator_id", "status")
        .annotate(n=Count("id"))
        .values_list("annotator_id", "status", "n")
    ):
        answers.setdefault(annotator_id, {})[status] = n
    workers = ProjectWorker.objects.filter(project=project).order_by("annotator_id")
    return {
        "project": str(project.pk),
        "consensus_method": project.consensus_method,
        "tasks": {
            "pending": by_status.get("pending", 0),
            "completed": by_status.get("completed", 0),
            "canceled": by_status.get("canceled", 0),
            "in_review": tasks.filter(in_review=True).count(),
            "gold": tasks.filter(is_gold=True).count(),
            "reworked": tasks.filter(rework_round__gt=0).count(),
        },
        "answers_per_completed_task": _answers_per_task(completed),
        "mean_confidence": completed.aggregate(v=Avg("confidence"))["v"],
        "reviews": dict(
            Review.objects.filter(project=project)
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        ),
        "agreement": project_agreement(project),
        "prelabels": prelabels_kept(project=project),
        "annotators": [_worker_row(w, reveal=reveal_annotators, answers=answers) for w in workers],
    }


def prelabels_kept(*, project: Project) -> dict[str, Any]:
    """How much of the pre-labels (``Task.hypothesis``) the final answers kept, over the project's
    most recent completed tasks that had one: the mean of the task type's F1 of the response
    against the hypothesis (IoU-matched for shapes, 3D IoU for cuboids, track IoU for video,
    exact spans for NER; ``prelabels.kept``), and how many were delivered unchanged (F1 = 1)."""
    rows = (
        Task.objects.filter(
            project=project,
            status=Task.Status.COMPLETED,
            is_test=False,
            is_gold=False,
            hypothesis__isnull=False,
        )
        .order_by("-completed_at")
        .values_list("task_type", "params", "response", "hypothesis")[:AGREEMENT_SAMPLE]
    )
    scores = [
        s
        for s in (
            prelabels.kept(kind, params, response, hypothesis) for kind, params, response, hypothesis in rows
        )
        if s is not None
    ]
    return {
        "tasks": len(scores),
        "kept_f1": sum(scores) / len(scores) if scores else None,
        "unchanged": sum(1 for s in scores if s >= 1.0 - 1e-9),
        "shown_to_annotators": project.show_hypothesis,
    }


def _answers_per_task(completed) -> float | None:
    n = completed.count()
    if not n:
        return None
    total = Submission.objects.filter(task__in=completed, status=Submission.Status.ACCEPTED).count()
    return total / n


def annotator_stats(*, annotator: Annotator) -> list[dict]:
    """An annotator's own figures per project they worked in (no client names)."""
    rows = ProjectWorker.objects.filter(annotator=annotator).select_related("project").order_by("-updated_at")
    answers: dict = {}
    for project_id, status, n in (
        Submission.objects.filter(annotator=annotator)
        .values_list("task__project_id", "status")
        .annotate(n=Count("id"))
        .values_list("task__project_id", "status", "n")
    ):
        answers.setdefault(project_id, {})[status] = n
    return [
        {
            "project": str(w.project_id),
            "project_name": w.project.name,
            "task_type": w.project.task_type,
            "status": w.status,
            "reason": w.reason,
            "answers": answers.get(w.project_id, {}).get("accepted", 0),
            "rejected": answers.get(w.project_id, {}).get("rejected", 0),
            "flagged": w.flags,
            "gold_answers": w.gold_answers,
            "gold_accuracy": w.gold_accuracy,
            "agreement": w.agreement,
        }
        for w in rows
    ]


def qualifications_for_annotator(*, annotator: Annotator) -> list[dict]:
    """Active qualification tests with the annotator's state in each: held, in progress (attempt
    id), failed (and when they may retry), or open."""
    held = {
        q.qualification_id: q
        for q in AnnotatorQualification.objects.filter(annotator=annotator, revoked_at__isnull=True)
    }
    last: dict = {}
    for attempt in QualificationAttempt.objects.filter(annotator=annotator).order_by("started_at"):
        last[attempt.qualification_id] = attempt
    out = []
    for q in Qualification.objects.filter(is_active=True).annotate(n=Count("questions")).order_by("name"):
        attempt = last.get(q.pk)
        state = "open"
        retry_at = None
        if q.pk in held:
            state = "held"
        elif attempt is not None and attempt.status == QualificationAttempt.Status.IN_PROGRESS:
            state = "in_progress"
        elif attempt is not None and attempt.status == QualificationAttempt.Status.FAILED:
            state = "failed"
            retry_at = attempt.finished_at + timedelta(seconds=q.retry_delay_seconds)
        out.append(
            {
                "id": str(q.pk),
                "name": q.name,
                "domain": q.domain,
                "task_type": q.task_type,
                "questions": q.n,
                "pass_mark": q.pass_mark,
                "state": state,
                "attempt": str(attempt.pk) if attempt is not None else None,
                "score": held[q.pk].score
                if q.pk in held
                else (attempt.score if attempt is not None else None),
                "retry_at": retry_at.isoformat() if retry_at else None,
            }
        )
    return out


def qualification_list_for_client(*, client) -> list[Qualification]:
    """The client's own tests and the platform-wide ones (both can be required by its projects)."""
    return list(
        Qualification.objects.filter(Q(client=client) | Q(client__isnull=True))
        .annotate(n=Count("questions"))
        .order_by("name")
    )


def annotator_list(*, status: str | None = None, limit: int = 1000) -> list[Annotator]:
    """Staff: annotators, oldest first, optionally of one status (e.g. applicants to vet)."""
    rows = Annotator.objects.select_related("user").order_by("created_at")
    if status:
        rows = rows.filter(status=status)
    return list(rows[:limit])


def project_for_staff(*, project_id) -> Project:
    """Staff see any project; a missing or malformed id is a 404."""
    return _get(Project.objects.all(), project_id, "Project")


def review_queue_depth() -> int:
    return Review.objects.exclude(status=Review.Status.DECIDED).count()
