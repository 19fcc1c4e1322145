"""Workforce vetting and quality control through the real services (issue 3): onboarding,
qualification tests, required qualifications, gold served at the ratio, the gold rule and its
appeal, anti-fraud, dynamic overlap, review verdicts, client audit rework, Dawid-Skene per project."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from annotation import quality_selectors, services
from annotation.models import (
    Annotator,
    Assignment,
    ConfusionCount,
    ProjectWorker,
    QualificationAttempt,
    Review,
    Submission,
    Task,
)
from annotation.services import workforce
from billing.models import Account, LedgerEntry, LedgerTransaction
from core.errors import Conflict, NotFound, PermissionDenied, TooManyRequests, ValidationFailed
from core.models import Event, WebhookDelivery
from tests.annotation.factories import AnnotatorFactory, ProjectFactory
from tests.clients.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db

CATS = {"categories": ["car", "pedestrian", "cyclist"]}


def _items(n, prefix="t", **extra):
    return [{"params": {"attachment": f"{prefix}{i}", "attachment_type": "text"}, **extra} for i in range(n)]


def _claim(annotator, project=None):
    return services.assignment_claim(annotator=annotator, project_id=project.pk if project else None)


def _submit(annotator, claim, answer, *, after_seconds=5):
    a = claim.assignment
    return services.assignment_submit(
        annotator=annotator,
        assignment_id=a.pk,
        claim_version=a.claim_version,
        answer=answer,
        now=a.claimed_at + timedelta(seconds=after_seconds),
    )


def _work(annotator, project, category="car", **kw):
    claim = _claim(annotator, project)
    assert claim is not None, "nothing served"
    return _submit(annotator, claim, {"category": category}, **kw)


def _balance(kind, **owner):
    return (
        LedgerEntry.objects.filter(
            account__kind=kind, **{f"account__{k}": v for k, v in owner.items()}
        ).aggregate(t=Sum("amount"))["t"]
        or 0
    )


def _qualification(**kw):
    return services.qualification_create(
        client=None,
        actor=None,
        name=kw.pop("name", "Vehicles"),
        task_type="categorization",
        domain="autonomous_driving",
        params=CATS,
        pass_mark=kw.pop("pass_mark", 0.6),
        retry_delay_seconds=kw.pop("retry_delay_seconds", 3600),
        questions=[
            {"params": {"attachment": f"q{i}", "attachment_type": "text"}, "gold_answer": {"category": c}}
            for i, c in enumerate(["car", "pedestrian", "cyclist"])
        ],
    )


def _take(annotator, qualification, answers, now=None):
    attempt = services.qualification_attempt_start(
        annotator=annotator, qualification_id=qualification.pk, now=now
    )
    for category in answers:
        question = workforce.attempt_next_question(attempt=attempt)
        attempt = services.qualification_attempt_answer(
            annotator=annotator,
            attempt_id=attempt.pk,
            question_id=question.pk,
            answer={"category": category},
            now=now,
        )
    return attempt


# --- onboarding and qualifications -------------------------------------------------------------------------


def test_apply_then_pass_a_test_grants_it_and_activates_the_applicant():
    user = UserFactory()
    annotator = services.annotator_apply(
        user=user, skills=["bbox"], domains=["autonomous_driving"], locales=["en"]
    )
    assert annotator.status == Annotator.Status.APPLICANT
    project = ProjectFactory(params=CATS)
    services.task_bulk_create(client=project.client, actor=None, project=project, items=_items(1))
    with pytest.raises(PermissionDenied):
        _claim(annotator)  # applicants do not get work
    qualification = _qualification()
    attempt = _take(annotator, qualification, ["car", "pedestrian", "cyclist"])
    assert attempt.status == QualificationAttempt.Status.PASSED and attempt.score == 1.0
    annotator.refresh_from_db()
    assert annotator.status == Annotator.Status.ACTIVE
    assert annotator.qualifications.filter(qualification=qualification, revoked_at__isnull=True).exists()
    kinds = list(Event.objects.filter(entity_id=annotator.pk).values_list("kind", flat=True))
    assert "annotator.applied" in kinds and "annotator.status_changed" in kinds
    with pytest.raises(Conflict):
        services.qualification_attempt_start(annotator=annotator, qualification_id=qualification.pk)


def test_a_failed_test_waits_for_the_retry_delay_and_bad_answers_change_nothing():
    annotator = AnnotatorFactory()
    qualification = _qualification(retry_delay_seconds=3600)
    now = timezone.now()
    attempt = _take(annotator, qualification, ["car", "car", "car"], now=now)
    assert attempt.status == QualificationAttempt.Status.FAILED and attempt.score == pytest.approx(1 / 3)
    with pytest.raises(TooManyRequests) as err:
        services.qualification_attempt_start(
            annotator=annotator, qualification_id=qualification.pk, now=now + timedelta(minutes=59)
        )
    assert err.value.code == "retry_later"
    retry = services.qualification_attempt_start(
        annotator=annotator, qualification_id=qualification.pk, now=now + timedelta(minutes=61)
    )
    question = workforce.attempt_next_question(attempt=retry)
    with pytest.raises(ValidationFailed):
        services.qualification_attempt_answer(
            annotator=annotator, attempt_id=retry.pk, question_id=question.pk, answer={"category": "truck"}
        )
    assert retry.answers.count() == 0
    other = AnnotatorFactory()
    with pytest.raises(NotFound):
        services.qualification_attempt_answer(
            annotator=other, attempt_id=retry.pk, question_id=question.pk, answer={"category": "car"}
        )


def test_a_bad_gold_answer_refuses_the_whole_qualification():
    with pytest.raises(ValidationFailed) as err:
        services.qualification_create(
            client=None,
            actor=None,
            name="Bad",
            task_type="categorization",
            params=CATS,
            questions=[{"gold_answer": {"category": "truck"}, "params": {"attachment": "x"}}],
        )
    assert "questions[0]" in err.value.message


def test_projects_serve_only_annotators_holding_their_required_qualifications():
    qualification = _qualification()
    project = ProjectFactory(params=CATS)
    services.project_update(
        client=project.client,
        actor=None,
        project_id=project.pk,
        changes={"required_qualifications": [str(qualification.pk)]},
    )
    services.task_bulk_create(client=project.client, actor=None, project=project, items=_items(2))
    unqualified, qualified = AnnotatorFactory(), AnnotatorFactory()
    _take(qualified, qualification, ["car", "pedestrian", "cyclist"])
    assert _claim(unqualified) is None
    assert _claim(qualified) is not None
    # Revoking takes the qualification and the live lease back.
    held = services.qualification_revoke(
        annotator_id=qualified.pk, qualification_id=qualification.pk, reason="audit", actor=None
    )
    assert held.revoked_at is not None
    assert not Assignment.objects.filter(annotator=qualified, status=Assignment.Status.ACTIVE).exists()
    assert _claim(qualified) is None
    # Staff may grant it without the test; the event keeps their reason.
    services.qualification_grant(
        annotator_id=unqualified.pk, qualification_id=qualification.pk, reason="vetted offline", actor=None
    )
    granted = Event.objects.filter(kind="qualification.granted", after__annotator=str(unqualified.pk)).get()
    assert (granted.after["source"], granted.after["reason"]) == ("staff", "vetted offline")
    assert _claim(unqualified) is not None
    # Another client's qualification cannot be required.
    foreign = services.qualification_create(
        client=ClientFactory(),
        actor=None,
        name="Theirs",
        task_type="categorization",
        params=CATS,
        questions=[{"params": {"attachment": "x"}, "gold_answer": {"category": "car"}}],
    )
    with pytest.raises(ValidationFailed):
        services.project_update(
            client=project.client,
            actor=None,
            project_id=project.pk,
            changes={"required_qualifications": [str(foreign.pk)]},
        )


def test_staff_status_changes_need_a_reason_and_a_legal_move_and_release_leases():
    annotator = AnnotatorFactory()
    project = ProjectFactory(params=CATS)
    services.task_bulk_create(client=project.client, actor=None, project=project, items=_items(1))
    assert _claim(annotator) is not None
    with pytest.raises(ValidationFailed):
        services.annotator_set_status(annotator_id=annotator.pk, status="suspended", reason=" ", actor=None)
    with pytest.raises(Conflict):
        services.annotator_set_status(annotator_id=annotator.pk, status="applicant", reason="no", actor=None)
    services.annotator_set_status(
        annotator_id=annotator.pk, status="suspended", reason="chargeback", actor=None
    )
    assert not Assignment.objects.filter(annotator=annotator, status=Assignment.Status.ACTIVE).exists()
    assert Task.objects.get().slots_taken == 0
    with pytest.raises(PermissionDenied):
        _claim(annotator)
    event = Event.objects.filter(entity_id=annotator.pk, kind="annotator.status_changed").get()
    assert event.after["reason"] == "chargeback"


# --- gold
# -------------------------------------------------------------------------------------------------------


def test_gold_is_served_at_the_ratio_scored_never_completed_nor_charged():
    project = ProjectFactory(params=CATS, gold_ratio=0.25, price_per_task=100, pay_per_answer=10)
    services.task_bulk_create(client=project.client, actor=None, project=project, items=_items(20))
    services.task_bulk_create(
        client=project.client,
        actor=None,
        project=project,
        items=_items(5, "g", gold_answer={"category": "car"}),
    )
    annotator = AnnotatorFactory()
    served = []
    for _ in range(12):
        claim = _claim(annotator, project)
        task = Task.objects.get(pk=claim.assignment.task_id)
        served.append(task.is_gold)
        assert "gold" not in str(claim.assignment.task.params)  # indistinguishable to the annotator
        _submit(annotator, claim, {"category": "car" if task.is_gold else "pedestrian"})
    assert sum(served) == 3  # 12 claims × 0.25
    worker = ProjectWorker.objects.get(project=project, annotator=annotator)
    assert (worker.served_total, worker.served_gold, worker.gold_answers, worker.gold_accuracy) == (
        12,
        3,
        3,
        1.0,
    )
    gold = Task.objects.filter(is_gold=True)
    assert all(t.status == Task.Status.PENDING and t.price == 0 for t in gold)
    assert _balance(Account.Kind.PLATFORM_COST) == 30  # 3 gold answers × 10
    assert LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.TASK_CHARGE).count() == 9


def test_the_gold_rule_removes_after_the_minimum_and_staff_restore_on_appeal():
    project = ProjectFactory(params=CATS, gold_ratio=1.0, gold_min_answers=3, gold_accuracy_threshold=0.5)
    services.task_bulk_create(
        client=project.client,
        actor=None,
        project=project,
        items=_items(4, "g", gold_answer={"category": "car"}),
    )
    services.task_bulk_create(client=project.client, actor=None, project=project, items=_items(3))
    spammer = AnnotatorFactory()
    _work(spammer, project, "cyclist")
    _work(spammer, project, "pedestrian")  # 0/2: still under the minimum
    assert ProjectWorker.objects.get(annotator=spammer).status == ProjectWorker.Status.ACTIVE
    _work(spammer, project, "cyclist")  # 0/3 < 0.5 → removed
    worker = ProjectWorker.objects.get(annotator=spammer)
    assert worker.status == ProjectWorker.Status.REMOVED and "gold accuracy" in worker.reason
    assert _claim(spammer, project) is None
    assert quality_selectors.annotator_stats(annotator=spammer)[0]["status"] == "removed"
    services.worker_restore(
        project_id=project.pk, annotator_id=spammer.pk, reason="appeal upheld", actor=None
    )
    worker.refresh_from_db()
    assert (worker.status, worker.gold_answers) == (ProjectWorker.Status.ACTIVE, 0)
    assert _claim(spammer, project) is not None
    with pytest.raises(Conflict):
        services.worker_restore(project_id=project.pk, annotator_id=spammer.pk, reason="again", actor=None)


# --- anti-fraud
# -------------------------------------------------------------------------------------------------


def test_too_fast_answers_are_flagged_not_counted_not_paid_and_repeat_offenders_suspended():
    project = ProjectFactory(
        params=CATS, min_answer_ms=3000, fraud_flag_limit=2, price_per_task=100, pay_per_answer=10
    )
    services.task_bulk_create(client=project.client, actor=None, project=project, items=_items(5))
    cheat = AnnotatorFactory()
    submission = _work(cheat, project, after_seconds=1)
    assert submission.flagged and submission.status == Submission.Status.REJECTED
    task = Task.objects.get(pk=submission.task_id)
    assert (task.status, task.slots_taken, task.answers_received) == (Task.Status.PENDING, 0, 0)
    assert _balance(Account.Kind.ANNOTATOR_PAYABLE, user=cheat.user) == 0
    _work(cheat, project, after_seconds=1)
    assert ProjectWorker.objects.get(annotator=cheat).status == ProjectWorker.Status.SUSPENDED
    assert _claim(cheat, project) is None
    honest = AnnotatorFactory()
    assert not _work(honest, project, after_seconds=4).flagged


# --- dynamic overlap, consensus methods
# ------------------------------------------------------------------------------


def test_dynamic_overlap_adds_answers_while_confidence_is_low_up_to_max_overlap():
    project = ProjectFactory(params=CATS, overlap=2, max_overlap=4, confidence_threshold=0.9)
    services.task_bulk_create(client=project.client, actor=None, project=project, items=_items(1))
    answers = ["car", "pedestrian", "car", "car"]
    statuses = []
    for category in answers:
        submission = _work(AnnotatorFactory(), project, category)
        statuses.append((submission.task.status, submission.task.overlap))
    assert statuses == [("pending", 2), ("pending", 3), ("pending", 4), ("completed", 4)]
    task = Task.objects.get()
    assert task.response == {"category": "car"} and task.confidence == 0.75


def test_confident_tasks_complete_at_the_base_overlap():
    project = ProjectFactory(params=CATS, overlap=2, max_overlap=5, confidence_threshold=0.9)
    services.task_bulk_create(client=project.client, actor=None, project=project, items=_items(1))
    _work(AnnotatorFactory(), project, "car")
    assert _work(AnnotatorFactory(), project, "car").task.status == "completed"


def test_dawid_skene_weighs_each_annotator_by_their_stored_confusion_matrix():
    expert, novice_a, novice_b = AnnotatorFactory(), AnnotatorFactory(), AnnotatorFactory()
    project = ProjectFactory(params=CATS, overlap=3, max_overlap=3, consensus_method="dawid_skene")
    # What gold answers taught: the expert is always right; the novices say "car" whatever the truth.
    pairs = [(expert.pk, c, c) for c in CATS["categories"] for _ in range(20)]
    pairs += [(n.pk, c, "car") for n in (novice_a, novice_b) for c in CATS["categories"] for _ in range(20)]
    workforce.confusion_add(project_id=project.pk, pairs=pairs)
    services.task_bulk_create(client=project.client, actor=None, project=project, items=_items(1))
    _work(novice_a, project, "car")
    _work(novice_b, project, "car")
    _work(expert, project, "cyclist")
    task = Task.objects.get()
    assert task.response == {"category": "cyclist"}  # majority vote would say car
    summary = services.project_consensus_recompute(project=project, actor=None, method="majority")
    task.refresh_from_db()
    assert summary["changed"] == 1 and task.response == {"category": "car"}
    services.project_consensus_recompute(project=project, actor=None, method="dawid_skene")
    task.refresh_from_db()
    assert task.response == {"category": "cyclist"}
    assert ConfusionCount.objects.filter(project=project).exists()


# --- review
# ------------------------------------------------------------------------------------------------------


def test_review_reject_returns_the_task_unpaid_then_fix_delivers_the_correction():
    project = ProjectFactory(
        params=CATS, review_enabled=True, review_share=1.0, price_per_task=100, pay_per_answer=10
    )
    services.task_bulk_create(client=project.client, actor=None, project=project, items=_items(1))
    first = AnnotatorFactory()
    submission = _work(first, project, "pedestrian")
    task = Task.objects.get()
    assert (task.status, task.in_review) == (Task.Status.PENDING, True)
    assert _balance(Account.Kind.ANNOTATOR_PAYABLE, user=first.user) == -10
    reviewer = AnnotatorFactory(is_reviewer=True)
    with pytest.raises(PermissionDenied):
        services.review_next(reviewer=AnnotatorFactory())
    review = services.review_next(reviewer=reviewer)
    assert review.task_id == task.pk and review.reason == Review.Reason.SAMPLE
    with pytest.raises(ValidationFailed):
        services.review_decide(reviewer=reviewer, review_id=review.pk, verdict="maybe")
    services.review_decide(
        reviewer=reviewer, review_id=review.pk, verdict="reject", comment="not a pedestrian"
    )
    task.refresh_from_db()
    assert (task.status, task.in_review, task.slots_taken, task.answers_received) == (
        Task.Status.PENDING,
        False,
        0,
        0,
    )
    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.REJECTED
    assert _balance(Account.Kind.ANNOTATOR_PAYABLE, user=first.user) == 0  # the rejected answer is not paid
    assert _claim(first, project) is None  # the rejected annotator never gets the task again
    _work(AnnotatorFactory(), project, "pedestrian")
    review = services.review_next(reviewer=reviewer)
    with pytest.raises(ValidationFailed):
        services.review_decide(
            reviewer=reviewer, review_id=review.pk, verdict="fix", corrected_answer={"category": "truck"}
        )
    services.review_decide(
        reviewer=reviewer, review_id=review.pk, verdict="fix", corrected_answer={"category": "cyclist"}
    )
    task.refresh_from_db()
    assert (task.status, task.response, task.confidence) == (
        Task.Status.COMPLETED,
        {"category": "cyclist"},
        1.0,
    )
    with pytest.raises(Conflict):
        services.review_decide(reviewer=reviewer, review_id=review.pk, verdict="accept")


def test_a_reviewer_never_reviews_their_own_answer_and_low_confidence_goes_to_review():
    project = ProjectFactory(
        params=CATS, overlap=2, max_overlap=2, confidence_threshold=0.9, review_enabled=True
    )
    services.task_bulk_create(client=project.client, actor=None, project=project, items=_items(1))
    reviewer = AnnotatorFactory(is_reviewer=True)
    _work(reviewer, project, "car")
    _work(AnnotatorFactory(), project, "cyclist")
    assert Review.objects.get().reason == Review.Reason.LOW_CONFIDENCE
    assert services.review_next(reviewer=reviewer) is None
    other = AnnotatorFactory(is_reviewer=True)
    review = services.review_next(reviewer=other)
    services.review_decide(reviewer=other, review_id=review.pk, verdict="accept")
    assert Task.objects.get().status == Task.Status.COMPLETED


# --- client audit → rework
# -------------------------------------------------------------------------------------------


def test_an_audit_rejection_sends_the_task_to_rework_at_the_platforms_cost(settings):
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = True
    project = ProjectFactory(params=CATS, price_per_task=100, pay_per_answer=10)
    services.task_bulk_create(
        client=project.client,
        actor=None,
        project=project,
        items=[{**_items(1)[0], "callback_url": "http://127.0.0.1:9/cb"}],
    )
    first = AnnotatorFactory()
    _work(first, project, "car")
    task = Task.objects.get()
    services.task_audit(client=project.client, actor=None, task_id=task.pk, accepted=False, comments="wrong")
    task.refresh_from_db()
    assert (task.status, task.rework_round, task.overlap) == (Task.Status.PENDING, 1, 2)
    assert _claim(first, project) is None
    second = AnnotatorFactory()
    _work(second, project, "cyclist")
    task.refresh_from_db()
    assert (task.status, task.response) == (Task.Status.COMPLETED, {"category": "cyclist"})
    assert (
        LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.TASK_CHARGE).count() == 1
    )  # charged once
    assert (
        _balance(Account.Kind.PLATFORM_COST) == 10 and _balance(Account.Kind.LABOR_COST) == 10
    )  # rework vs first round
    callbacks = WebhookDelivery.objects.filter(event_type="task.completed").count()
    assert callbacks == 2  # the first delivery and the reworked one
    with pytest.raises(ValidationFailed):
        services.task_audit(client=project.client, actor=None, task_id=task.pk, accepted="no")


def test_project_quality_reports_alpha_and_pseudonymous_annotators():
    project = ProjectFactory(params=CATS, overlap=3, max_overlap=3)
    services.task_bulk_create(client=project.client, actor=None, project=project, items=_items(4))
    annotators = [AnnotatorFactory() for _ in range(3)]
    for _ in range(4):
        for annotator in annotators:
            _work(annotator, project, "car")
    figures = quality_selectors.project_quality(project=project)
    assert figures["tasks"]["completed"] == 4
    assert figures["agreement"]["category"]["units"] == 4
    assert {row["annotator"] for row in figures["annotators"]}.isdisjoint({str(a.pk) for a in annotators})
    assert all(row["agreement"] == 1.0 and row["answers"] == 4 for row in figures["annotators"])
    staff = quality_selectors.project_quality(project=project, reveal_annotators=True)
    assert {row["annotator"] for row in staff["annotators"]} == {str(a.pk) for a in annotators}


def test_barred_from_enough_projects_the_annotator_is_suspended_platform_wide(
    settings, django_capture_on_commit_callbacks
):
    settings.QUORUM_SUSPEND_AFTER_BARS = 2
    annotator = AnnotatorFactory()
    first, second = ProjectFactory(params=CATS), ProjectFactory(params=CATS)
    with django_capture_on_commit_callbacks(execute=True):
        services.worker_remove(project_id=first.pk, annotator_id=annotator.pk, reason="gold", actor=None)
    annotator.refresh_from_db()
    assert annotator.status == Annotator.Status.ACTIVE  # one project: still active elsewhere
    with django_capture_on_commit_callbacks(execute=True):
        services.worker_remove(project_id=second.pk, annotator_id=annotator.pk, reason="gold", actor=None)
    annotator.refresh_from_db()
    assert annotator.status == Annotator.Status.SUSPENDED
    event = Event.objects.filter(entity_id=annotator.pk, kind="annotator.status_changed").get()
    assert event.actor == "system:rules" and "barred from 2 projects" in event.after["reason"]


def test_a_review_whose_lease_ran_out_goes_to_another_reviewer():
    project = ProjectFactory(params=CATS, review_enabled=True, review_share=1.0)
    services.task_bulk_create(client=project.client, actor=None, project=project, items=_items(1))
    _work(AnnotatorFactory(), project, "car")
    slow, quick = AnnotatorFactory(is_reviewer=True), AnnotatorFactory(is_reviewer=True)
    review = services.review_next(reviewer=slow)
    assert services.review_next(reviewer=quick) is None  # leased to the slow reviewer
    later = review.leased_until + timedelta(seconds=1)
    taken = services.review_next(reviewer=quick, now=later)
    assert taken.pk == review.pk and taken.reviewer_id == quick.pk
    with pytest.raises(NotFound):
        services.review_decide(reviewer=slow, review_id=review.pk, verdict="accept", now=later)
    services.review_decide(reviewer=quick, review_id=review.pk, verdict="accept", now=later)
    assert Task.objects.get().status == Task.Status.COMPLETED


def test_the_completion_relay_leaves_tasks_held_for_review_alone():
    from annotation.tasks import complete_ready_tasks

    project = ProjectFactory(params=CATS, review_enabled=True, review_share=1.0)
    services.task_bulk_create(client=project.client, actor=None, project=project, items=_items(1))
    _work(AnnotatorFactory(), project, "car")
    assert Task.objects.get().in_review
    assert (
        complete_ready_tasks() == 0
    )  # all answers are in, but the task waits for a reviewer, not for the relay
