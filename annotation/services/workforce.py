"""Writes for the workforce: onboarding and status, qualifications (tests of gold questions), each
annotator's standing in a project (the gold and anti-fraud rules, staff restore), reliability.

Every status change writes an event row with its reason, in the same transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from annotation import tasktypes
from annotation.lifecycle import leases
from annotation.lifecycle.standing import (  # noqa: F401 - the public surface stays here
    CONFUSION_SQL,
    WORKER_DELTA_SQL,
    WorkerDelta,
    annotator_rules_apply,
    confusion_add,
    confusion_matrices,
    worker_bar,
    workers_apply,
)
from annotation.models import (
    Annotator,
    AnnotatorQualification,
    Domain,
    Project,
    ProjectWorker,
    Qualification,
    QualificationAnswer,
    QualificationAttempt,
    QualificationQuestion,
    Task,
)
from clients.models import Client, User
from core import events, limits
from core.errors import Conflict, NotFound, PermissionDenied, TooManyRequests, ValidationFailed

MAX_QUESTIONS = 200
MAX_LIST = 50
MAX_REASON = 300

# --- onboarding and status ---------------------------------------------------------------------------

# Who may move an annotator where (staff); the rules move annotators only to ``suspended``.
STATUS_MOVES = {
    Annotator.Status.APPLICANT: {Annotator.Status.ACTIVE, Annotator.Status.BANNED},
    Annotator.Status.ACTIVE: {Annotator.Status.SUSPENDED, Annotator.Status.BANNED},
    Annotator.Status.SUSPENDED: {Annotator.Status.ACTIVE, Annotator.Status.BANNED},
    Annotator.Status.BANNED: {Annotator.Status.ACTIVE},
}


def _string_list(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if (
        not isinstance(value, list)
        or len(value) > MAX_LIST
        or not all(isinstance(v, str) and 0 < len(v) <= 80 for v in value)
    ):
        raise ValidationFailed(
            f"{field}: must be a list of at most {MAX_LIST} non-empty strings of at most 80 characters",
            code="invalid_profile",
            details={"field": field},
        )
    return sorted(set(value))


def _reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise ValidationFailed(
            f"reason: must be a non-empty string of at most {MAX_REASON} characters",
            code="invalid_reason",
            details={"field": "reason"},
        )
    return reason.strip()


@transaction.atomic
def annotator_apply(*, user: User, skills: Any = None, domains: Any = None, locales: Any = None) -> Annotator:
    """A user applies to annotate (status ``applicant``), with skills, domains and languages; an
    applicant may apply again to update them. Staff vet applicants (``annotator_set_status``), or
    passing a qualification test activates them (``QUORUM_ACTIVATE_ON_QUALIFICATION``)."""
    skills, locales = _string_list(skills, "skills"), _string_list(locales, "locales")
    domains = _string_list(domains, "domains")
    unknown = sorted(set(domains) - set(Domain.values))
    if unknown:
        raise ValidationFailed(
            f"domains: {unknown[0]!r} is not one of {', '.join(Domain.values)}",
            code="invalid_profile",
            details={"field": "domains"},
        )
    annotator = Annotator.objects.select_for_update(no_key=True).filter(user=user).first()
    if annotator is None:
        annotator = Annotator.objects.create(user=user, skills=skills, domains=domains, locales=locales)
        events.record(
            actor=user,
            entity=annotator,
            kind="annotator.applied",
            after={"status": annotator.status},
            client_id=None,
        )
        return annotator
    if annotator.status != Annotator.Status.APPLICANT:
        raise Conflict(f"You are already an annotator ({annotator.status}).", code="annotator_exists")
    annotator.skills, annotator.domains, annotator.locales = skills, domains, locales
    annotator.save(update_fields=["skills", "domains", "locales"])
    events.record(
        actor=user,
        entity=annotator,
        kind="annotator.profile_updated",
        after={"skills": skills, "domains": domains, "locales": locales},
        client_id=None,
    )
    return annotator


@transaction.atomic
def annotator_set_status(
    *, annotator_id, status: str, reason: Any, actor: Any, is_reviewer: bool | None = None
) -> Annotator:
    """Staff vet (applicant → active), suspend, ban or restore an annotator, with a reason, and may
    grant or take the reviewer role (``is_reviewer``; the status may then stay as it is). Taking
    the annotator row lock serializes this with their claims: once it returns, a suspended or
    banned annotator holds no lease and gets no task."""
    reason = _reason(reason)
    if status not in Annotator.Status.values:
        raise ValidationFailed(
            f"status: must be one of {', '.join(Annotator.Status.values)}",
            code="invalid_status",
            details={"field": "status"},
        )
    annotator = _get(
        Annotator.objects.select_for_update(no_key=True), "Annotator not found.", pk=annotator_id
    )
    before = annotator.status
    if status not in STATUS_MOVES[before] and not (status == before and is_reviewer is not None):
        raise Conflict(f"An annotator who is {before} cannot become {status}.", code="invalid_status_change")
    now = timezone.now()
    reviewer_before = annotator.is_reviewer
    annotator.status = status
    if is_reviewer is not None:
        annotator.is_reviewer = bool(is_reviewer)
    annotator.save(update_fields=["status", "is_reviewer"])
    released = 0
    if status in (Annotator.Status.SUSPENDED, Annotator.Status.BANNED):
        released = leases.release_live_leases(annotator_id=annotator.pk, actor=actor, now=now)
    events.record(
        actor=actor,
        entity=annotator,
        kind="annotator.status_changed",
        before={"status": before, "is_reviewer": reviewer_before},
        after={
            "status": status,
            "is_reviewer": annotator.is_reviewer,
            "reason": reason,
            "leases_released": released,
        },
        client_id=None,
    )
    return annotator


# --- standing in a project: the gold and anti-fraud rules, staff restore -------------------------------


@transaction.atomic
def worker_remove(*, project_id, annotator_id, reason: Any, actor: Any) -> ProjectWorker:
    """Staff remove an annotator from a project, with a reason."""
    reason = _reason(reason)
    project = _project(project_id)
    _annotator(annotator_id)
    if not worker_bar(
        project=project,
        annotator_id=annotator_id,
        status=ProjectWorker.Status.REMOVED,
        reason=reason,
        actor=actor,
    ):
        raise Conflict("This annotator is not active in the project.", code="worker_not_active")
    return ProjectWorker.objects.get(project=project, annotator_id=annotator_id)


@transaction.atomic
def worker_restore(*, project_id, annotator_id, reason: Any, actor: Any) -> ProjectWorker:
    """The appeal path: staff restore an annotator removed or suspended from a project. The gold
    and flag counters start again (the event keeps the old figures), so the rule judges new work."""
    reason = _reason(reason)
    project = _project(project_id)
    worker = _get(
        ProjectWorker.objects.select_for_update(),
        "This annotator has no standing in the project.",
        project=project,
        annotator_id=annotator_id,
    )
    if worker.status == ProjectWorker.Status.ACTIVE:
        raise Conflict("This annotator is active in the project.", code="worker_active")
    before = {
        "status": worker.status,
        "reason": worker.reason,
        "gold_answers": worker.gold_answers,
        "gold_score": worker.gold_score,
        "flags": worker.flags,
    }
    worker.status, worker.reason, worker.gold_answers, worker.gold_score, worker.flags = (
        ProjectWorker.Status.ACTIVE,
        "",
        0,
        0.0,
        0,
    )
    worker.updated_at = timezone.now()
    worker.save(update_fields=["status", "reason", "gold_answers", "gold_score", "flags", "updated_at"])
    events.record(
        actor=actor,
        entity=worker,
        kind="project_worker.restored",
        before=before,
        after={"status": "active", "reason": reason},
        client_id=project.client_id,
    )
    return worker


def _get(queryset, message: str, **lookup):
    """One row or 404, also for ids that are not UUIDs."""
    try:
        return queryset.get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound(message) from exc


def _project(project_id) -> Project:
    return _get(Project.objects, "Project not found.", pk=project_id)


def _annotator(annotator_id) -> Annotator:
    return _get(Annotator.objects, "Annotator not found.", pk=annotator_id)


# --- qualifications ------------------------------------------------------------------------------------


def _check_qualification_fields(
    *, name: Any, task_type: Any, domain: Any, pass_mark: Any, retry_delay_seconds: Any
) -> None:
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200:
        raise ValidationFailed(
            "name: must be a string of 1 to 200 characters",
            code="invalid_qualification",
            details={"field": "name"},
        )
    tasktypes.spec_for(task_type if isinstance(task_type, str) else "")
    if domain not in Domain.values:
        raise ValidationFailed(
            f"domain: must be one of {', '.join(Domain.values)}",
            code="invalid_qualification",
            details={"field": "domain"},
        )
    if isinstance(pass_mark, bool) or not isinstance(pass_mark, int | float) or not 0 <= pass_mark <= 1:
        raise ValidationFailed(
            "pass_mark: must be a number between 0 and 1",
            code="invalid_qualification",
            details={"field": "pass_mark"},
        )
    if (
        isinstance(retry_delay_seconds, bool)
        or not isinstance(retry_delay_seconds, int)
        or not 0 <= retry_delay_seconds <= 90 * 86400
    ):
        raise ValidationFailed(
            "retry_delay_seconds: must be an integer between 0 and 7776000 (90 days)",
            code="invalid_qualification",
            details={"field": "retry_delay_seconds"},
        )


@transaction.atomic
def qualification_create(
    *,
    client: Client | None,
    actor: Any,
    name: Any,
    task_type: Any,
    domain: Any = "other",
    instructions: Any = "",
    params: Any = None,
    pass_mark: Any = 0.8,
    retry_delay_seconds: Any = 86400,
    questions: Any = None,
    gold_task_ids: Any = None,
) -> Qualification:
    """A test made of gold questions of one task type: given inline (``questions``: params,
    instruction, gold_answer) and/or copied from the client's gold tasks (``gold_task_ids``).
    ``client`` None = platform-wide (staff). Each gold answer must be valid for its question."""
    _check_qualification_fields(
        name=name,
        task_type=task_type,
        domain=domain,
        pass_mark=pass_mark,
        retry_delay_seconds=retry_delay_seconds,
    )
    params = params if params is not None else {}
    if not isinstance(params, dict):
        raise ValidationFailed(
            "params: must be an object", code="invalid_params", details={"field": "params"}
        )
    limits.check_project({"params": params, "instructions": instructions})
    tasktypes.check_project_params(task_type, params)
    if not isinstance(instructions, str):
        raise ValidationFailed(
            "instructions: must be a string", code="invalid_qualification", details={"field": "instructions"}
        )
    items: list[dict] = []
    if questions is not None:
        if not isinstance(questions, list):
            raise ValidationFailed(
                "questions: must be a list", code="invalid_qualification", details={"field": "questions"}
            )
        items.extend(questions)
    if gold_task_ids:
        if client is None or not isinstance(gold_task_ids, list):
            raise ValidationFailed(
                "gold_task_ids: a list of your gold task ids (client qualifications only)",
                code="invalid_qualification",
                details={"field": "gold_task_ids"},
            )
        gold = {
            str(t.pk): t
            for t in Task.objects.filter(
                client=client,
                is_gold=True,
                task_type=task_type,
                pk__in=[i for i in gold_task_ids if isinstance(i, str)],
            )
        }
        for i, task_id in enumerate(gold_task_ids):
            task = gold.get(str(task_id))
            if task is None:
                raise ValidationFailed(
                    f"gold_task_ids[{i}]: not one of your gold tasks of type {task_type}",
                    code="invalid_qualification",
                    details={"field": f"gold_task_ids[{i}]"},
                )
            items.append(
                {"params": task.params, "instruction": task.instruction, "gold_answer": task.gold_answer}
            )
    if not 1 <= len(items) <= MAX_QUESTIONS:
        raise ValidationFailed(
            f"questions: a test needs 1 to {MAX_QUESTIONS} questions",
            code="invalid_qualification",
            details={"field": "questions"},
        )
    rows = []
    for i, item in enumerate(items):
        field = f"questions[{i}]"
        if (
            not isinstance(item, dict)
            or set(item) - {"params", "instruction", "gold_answer"}
            or "gold_answer" not in item
        ):
            raise ValidationFailed(
                f"{field}: must be an object with gold_answer and optional params and instruction",
                code="invalid_qualification",
                details={"field": field},
            )
        q_params = tasktypes.effective_params(params, item.get("params") or {})
        try:
            tasktypes.check_params(task_type, q_params, prefix=f"{field}.params")
            tasktypes.check_answer(task_type, q_params, item["gold_answer"])
        except ValidationFailed as exc:
            raise ValidationFailed(
                f"{field}: {exc.message}", code=exc.code, details={"field": field}
            ) from exc
        rows.append(
            QualificationQuestion(
                position=i,
                params=item.get("params") or {},
                instruction=str(item.get("instruction") or ""),
                gold_answer=item["gold_answer"],
            )
        )
    try:
        with transaction.atomic():
            qualification = Qualification.objects.create(
                client=client,
                name=name.strip(),
                task_type=task_type,
                domain=domain,
                instructions=instructions,
                params=params,
                pass_mark=float(pass_mark),
                retry_delay_seconds=retry_delay_seconds,
            )
    except IntegrityError as exc:
        raise Conflict(
            f"A qualification named {name.strip()!r} already exists.", code="qualification_exists"
        ) from exc
    for row in rows:
        row.qualification = qualification
    QualificationQuestion.objects.bulk_create(rows)
    events.record(
        actor=actor,
        entity=qualification,
        kind="qualification.created",
        after={"name": qualification.name, "questions": len(rows), "pass_mark": qualification.pass_mark},
        client_id=client.pk if client else None,
    )
    return qualification


def _grant(
    *,
    annotator: Annotator,
    qualification: Qualification,
    source: str,
    score: float | None,
    reason: str,
    actor: Any,
    now: datetime,
) -> AnnotatorQualification:
    """Grant (or grant again after a revocation), with one event carrying the reason.
    Precondition: the annotator row is locked by this transaction."""
    held, created = AnnotatorQualification.objects.get_or_create(
        annotator=annotator,
        qualification=qualification,
        defaults={
            "source": source,
            "score": score,
            "granted_at": now,
            "granted_by": events.actor_label(actor),
        },
    )
    if not created:
        held.source, held.score, held.granted_at, held.granted_by, held.revoked_at = (
            source,
            score,
            now,
            events.actor_label(actor),
            None,
        )
        held.save(update_fields=["source", "score", "granted_at", "granted_by", "revoked_at"])
    events.record(
        actor=actor,
        entity=held,
        kind="qualification.granted",
        after={
            "qualification": str(qualification.pk),
            "annotator": str(annotator.pk),
            "source": source,
            "score": score,
            "reason": reason,
        },
        client_id=qualification.client_id,
    )
    return held


@transaction.atomic
def qualification_grant(*, annotator_id, qualification_id, reason: Any, actor: Any) -> AnnotatorQualification:
    """Staff grant a qualification without the test."""
    reason = _reason(reason)
    annotator = _get(
        Annotator.objects.select_for_update(no_key=True), "Annotator not found.", pk=annotator_id
    )
    qualification = _qualification(qualification_id)
    return _grant(
        annotator=annotator,
        qualification=qualification,
        source=AnnotatorQualification.Source.STAFF,
        score=None,
        reason=reason,
        actor=actor,
        now=timezone.now(),
    )


@transaction.atomic
def qualification_revoke(
    *, annotator_id, qualification_id, reason: Any, actor: Any
) -> AnnotatorQualification:
    """Staff revoke a qualification. The annotator row lock serializes this with their claims; live
    leases in projects that require it are given back."""
    reason = _reason(reason)
    annotator = _get(
        Annotator.objects.select_for_update(no_key=True), "Annotator not found.", pk=annotator_id
    )
    qualification = _qualification(qualification_id)
    held = (
        AnnotatorQualification.objects.select_for_update()
        .filter(annotator=annotator, qualification=qualification, revoked_at__isnull=True)
        .first()
    )
    if held is None:
        raise Conflict("The annotator does not hold this qualification.", code="qualification_not_held")
    now = timezone.now()
    held.revoked_at = now
    held.save(update_fields=["revoked_at"])
    for project_id in qualification.projects.values_list("id", flat=True):
        leases.release_live_leases(annotator_id=annotator.pk, project_id=project_id, actor=actor, now=now)
    events.record(
        actor=actor,
        entity=held,
        kind="qualification.revoked",
        after={"reason": reason},
        client_id=qualification.client_id,
    )
    return held


def _qualification(qualification_id) -> Qualification:
    return _get(Qualification.objects, "Qualification not found.", pk=qualification_id)


def _can_take(annotator: Annotator) -> None:
    if annotator.status not in (Annotator.Status.APPLICANT, Annotator.Status.ACTIVE):
        raise PermissionDenied(
            f"Annotator is {annotator.status}; tests are open to applicants and active annotators.",
            code="annotator_not_active",
        )


@transaction.atomic
def qualification_attempt_start(
    *, annotator: Annotator, qualification_id, now: datetime | None = None
) -> QualificationAttempt:
    """Start (or resume) the test. 409 if already held; 429 with ``retry_at`` before the retry
    delay after a failed attempt has passed."""
    now = now or timezone.now()
    annotator = Annotator.objects.select_for_update(no_key=True).get(pk=annotator.pk)
    _can_take(annotator)
    qualification = _qualification(qualification_id)
    if not qualification.is_active:
        raise NotFound("Qualification not found.")
    if AnnotatorQualification.objects.filter(
        annotator=annotator, qualification=qualification, revoked_at__isnull=True
    ).exists():
        raise Conflict("You already hold this qualification.", code="already_qualified")
    last = (
        QualificationAttempt.objects.filter(annotator=annotator, qualification=qualification)
        .order_by("-started_at")
        .first()
    )
    if last is not None and last.status == QualificationAttempt.Status.IN_PROGRESS:
        return last
    if last is not None and last.status == QualificationAttempt.Status.FAILED:
        retry_at = last.finished_at + timedelta(seconds=qualification.retry_delay_seconds)
        if retry_at > now:
            raise TooManyRequests(
                f"You can take this test again after {retry_at.isoformat()}.",
                code="retry_later",
                details={"retry_at": retry_at.isoformat()},
            )
    attempt = QualificationAttempt.objects.create(
        qualification=qualification, annotator=annotator, started_at=now
    )
    events.record(
        actor=f"user:{annotator.user_id}",
        entity=attempt,
        kind="qualification_attempt.started",
        after={"qualification": str(qualification.pk)},
        client_id=None,
    )
    return attempt


def attempt_get(*, annotator: Annotator, attempt_id) -> QualificationAttempt:
    return _get(
        QualificationAttempt.objects.select_related("qualification"),
        "Attempt not found.",
        pk=attempt_id,
        annotator=annotator,
    )


def attempt_next_question(*, attempt: QualificationAttempt) -> QualificationQuestion | None:
    """The first question not yet answered, in order; None when the attempt is over."""
    if attempt.status != QualificationAttempt.Status.IN_PROGRESS:
        return None
    answered = QualificationAnswer.objects.filter(attempt=attempt).values("question_id")
    return attempt.qualification.questions.exclude(pk__in=answered).order_by("position").first()


@transaction.atomic
def qualification_attempt_answer(
    *, annotator: Annotator, attempt_id, question_id, answer: Any, now: datetime | None = None
) -> QualificationAttempt:
    """Answer one question of a test in progress; the answer is validated like ordinary work.
    After the last question the attempt is scored (mean over auto-scorable questions): at or
    above the pass mark the qualification is granted — and an applicant becomes active when
    ``QUORUM_ACTIVATE_ON_QUALIFICATION`` — else the retry delay starts."""
    now = now or timezone.now()
    attempt = attempt_get(annotator=annotator, attempt_id=attempt_id)
    attempt = (
        QualificationAttempt.objects.select_for_update().select_related("qualification").get(pk=attempt.pk)
    )
    if attempt.status != QualificationAttempt.Status.IN_PROGRESS:
        raise Conflict(f"This attempt is {attempt.status}.", code="attempt_finished")
    qualification = attempt.qualification
    question = _get(qualification.questions, "Question not found in this test.", pk=question_id)
    if QualificationAnswer.objects.filter(attempt=attempt, question=question).exists():
        raise Conflict("This question was already answered.", code="already_answered")
    params = tasktypes.effective_params(qualification.params, question.params)
    tasktypes.check_answer(qualification.task_type, params, answer)
    score = tasktypes.score_gold(qualification.task_type, params, answer, question.gold_answer)
    QualificationAnswer.objects.create(
        attempt=attempt, question=question, answer=answer, score=score, created_at=now
    )
    if attempt_next_question(attempt=attempt) is not None:
        return attempt
    scores = [
        s
        for s in QualificationAnswer.objects.filter(attempt=attempt).values_list("score", flat=True)
        if s is not None
    ]
    attempt.score = sum(scores) / len(scores) if scores else None
    passed = attempt.score is not None and attempt.score >= qualification.pass_mark
    attempt.status = QualificationAttempt.Status.PASSED if passed else QualificationAttempt.Status.FAILED
    attempt.finished_at = now
    attempt.save(update_fields=["score", "status", "finished_at"])
    events.record(
        actor=f"user:{annotator.user_id}",
        entity=attempt,
        kind=f"qualification_attempt.{attempt.status}",
        after={"score": attempt.score, "pass_mark": qualification.pass_mark},
        client_id=None,
    )
    if passed:
        locked = Annotator.objects.select_for_update(no_key=True).get(pk=annotator.pk)
        _grant(
            annotator=locked,
            qualification=qualification,
            source=AnnotatorQualification.Source.TEST,
            score=attempt.score,
            reason=f"passed the test with {attempt.score:.3f}",
            actor="system:qualification",
            now=now,
        )
        if settings.QUORUM_ACTIVATE_ON_QUALIFICATION and locked.status == Annotator.Status.APPLICANT:
            locked.status = Annotator.Status.ACTIVE
            locked.save(update_fields=["status"])
            events.record(
                actor="system:qualification",
                entity=locked,
                kind="annotator.status_changed",
                before={"status": "applicant"},
                after={"status": "active", "reason": f"passed qualification {qualification.name!r}"},
                client_id=None,
            )
    return attempt


def project_set_qualifications(*, project: Project, qualification_ids: Any) -> list[Qualification]:
    """Set the qualifications a project requires: the client's own or platform-wide ones.
    Precondition: in a transaction, the project row locked by the caller."""
    if not isinstance(qualification_ids, list) or len(qualification_ids) > MAX_LIST:
        raise ValidationFailed(
            f"required_qualifications: must be a list of at most {MAX_LIST} qualification ids",
            code="invalid_qualification",
            details={"field": "required_qualifications"},
        )
    found = []
    visible = Qualification.objects.filter(Q(client_id=project.client_id) | Q(client__isnull=True))
    for i, qid in enumerate(qualification_ids):
        try:
            found.append(_get(visible, "", pk=qid))
        except NotFound as exc:
            raise ValidationFailed(
                f"required_qualifications[{i}]: no such qualification",
                code="invalid_qualification",
                details={"field": f"required_qualifications[{i}]"},
            ) from exc
    project.required_qualifications.set(found)
    return found
