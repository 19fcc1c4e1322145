"""Concurrent claims on PostgreSQL: an unqualified, suspended or removed annotator never receives a
task of the project, and a removal or suspension racing their claims leaves them holding nothing.
Real connections, one per thread (``transaction=True``).

Only the outcomes the services promise count as outcomes (a claim, no claim, 403 for a suspended
annotator, 409 for a lease the removal took back); anything else (a deadlock, an integrity error,
a thread that never finishes) fails the test. Waits are hang guards, never timing assertions.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection

from annotation import services
from annotation.models import Annotator, Assignment, ProjectWorker, Task
from core.errors import Conflict, PermissionDenied
from tests.annotation.factories import ProjectFactory
from tests.clients.factories import UserFactory

CATS = {"categories": ["car", "pedestrian", "cyclist"]}
HANG_GUARD = 300  # seconds; a passing test never waits this long


def _annotators(n: int, **fields) -> list[Annotator]:
    return [
        Annotator.objects.create(user=UserFactory(), status=fields.get("status", Annotator.Status.ACTIVE))
        for _ in range(n)
    ]


def _items(n, prefix="t"):
    return [{"params": {"attachment": f"{prefix}{i}", "attachment_type": "text"}} for i in range(n)]


def _work_until_dry(
    annotator: Annotator, project, errors: list, served: list, barrier: threading.Barrier
) -> None:
    try:
        barrier.wait(HANG_GUARD)
        while True:
            try:
                claim = services.assignment_claim(annotator=annotator, project_id=project.pk)
            except PermissionDenied:  # a suspended annotator's claim: 403, the one refusal expected
                served.append((annotator.pk, "PermissionDenied"))
                return
            if claim is None:
                # Null is momentary while another claimer holds the last open rows (SKIP LOCKED):
                # like a client, poll again until the project has no pending task left.
                if Task.objects.filter(project=project, status=Task.Status.PENDING).exists():
                    time.sleep(0.01)  # a poll's pace, not an ordering: the loop ends on the state above
                    continue
                return
            a = claim.assignment
            served.append((annotator.pk, a.task_id))
            services.assignment_submit(
                annotator=annotator,
                assignment_id=a.pk,
                claim_version=a.claim_version,
                answer={"category": "car"},
                now=a.claimed_at + timedelta(seconds=3),
            )
    except Exception as exc:  # noqa: BLE001 - anything else (deadlock, IntegrityError…) fails the test
        errors.append(f"{annotator.pk}: {type(exc).__name__}: {exc}")
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_serve_the_unqualified_the_suspended_or_the_removed():
    qualification = services.qualification_create(
        client=None,
        actor=None,
        name="Vehicles",
        task_type="categorization",
        params=CATS,
        pass_mark=0.5,
        questions=[
            {"params": {"attachment": "q", "attachment_type": "text"}, "gold_answer": {"category": "car"}}
        ],
    )
    project = ProjectFactory(params=CATS, overlap=3, max_overlap=3)
    services.project_update(
        client=project.client,
        actor=None,
        project_id=project.pk,
        changes={"required_qualifications": [str(qualification.pk)]},
    )
    services.task_bulk_create(client=project.client, actor=None, project=project, items=_items(60))
    qualified = _annotators(6)
    unqualified = _annotators(4)
    removed = _annotators(3)
    suspended = _annotators(3)
    for annotator in qualified + removed + suspended:
        services.qualification_grant(
            annotator_id=annotator.pk, qualification_id=qualification.pk, reason="vetted", actor=None
        )
    for annotator in removed:
        ProjectWorker.objects.create(
            project=project, annotator=annotator, status=ProjectWorker.Status.REMOVED, reason="gold"
        )
    for annotator in suspended:
        services.annotator_set_status(
            annotator_id=annotator.pk, status="suspended", reason="fraud", actor=None
        )
    everyone = qualified + unqualified + removed + suspended
    errors: list = []
    served: list = []
    barrier = threading.Barrier(len(everyone))
    threads = [
        threading.Thread(target=_work_until_dry, args=(a, project, errors, served, barrier)) for a in everyone
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG_GUARD)
    assert not any(t.is_alive() for t in threads), "a claimer is still running (hang guard)"
    assert errors == []
    barred = {a.pk for a in unqualified + removed + suspended}
    got = {pk for pk, outcome in served if not isinstance(outcome, str)}
    assert got.isdisjoint(barred)
    assert not Assignment.objects.filter(annotator_id__in=barred).exists()
    assert {pk for pk, outcome in served if outcome == "PermissionDenied"} == {a.pk for a in suspended}
    assert (
        Task.objects.filter(project=project, status=Task.Status.COMPLETED).count() == 60
    )  # the qualified did it all
    assert got == {a.pk for a in qualified}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["remove", "suspend", "revoke"])
def test_a_removal_racing_the_annotators_claims_leaves_them_nothing(how):
    """One thread claims and gives back as fast as it can; staff bar the annotator meanwhile. Once
    the staff call returns, the annotator holds no live lease there and no later claim serves them —
    each claim either finished before (its lease is released by the removal) or waits and sees it."""
    qualification = services.qualification_create(
        client=None,
        actor=None,
        name=f"Q {how}",
        task_type="categorization",
        params=CATS,
        pass_mark=0.5,
        questions=[
            {"params": {"attachment": "q", "attachment_type": "text"}, "gold_answer": {"category": "car"}}
        ],
    )
    project = ProjectFactory(params=CATS, overlap=1, max_overlap=1)
    services.project_update(
        client=project.client,
        actor=None,
        project_id=project.pk,
        changes={"required_qualifications": [str(qualification.pk)]},
    )
    services.task_bulk_create(client=project.client, actor=None, project=project, items=_items(200))
    (annotator,) = _annotators(1)
    services.qualification_grant(
        annotator_id=annotator.pk, qualification_id=qualification.pk, reason="vetted", actor=None
    )
    stop = threading.Event()
    claims = {"n": 0, "attempts": 0}
    errors: list = []

    def churn():
        live: list = []
        try:
            while not stop.is_set():
                try:
                    claim = services.assignment_claim(
                        annotator=annotator, project_id=project.pk, resume=False
                    )
                except PermissionDenied:
                    if how != "suspend":  # only a suspension refuses the claim itself (403)
                        raise
                    claim = None
                claims["attempts"] += 1
                if claim is None:
                    time.sleep(0.001)
                    continue
                claims["n"] += 1
                # Keep every other lease live (the removal must take them back), at most two at a
                # time so the live-lease quota (3) never refuses the next claim.
                live.append(claim.assignment)
                if claims["n"] % 2 or len(live) > 2:
                    a = live.pop(0)
                    try:
                        services.assignment_release(
                            annotator=annotator, assignment_id=a.pk, claim_version=a.claim_version
                        )
                    except Conflict as exc:  # released by the removal first: 409 lease_lost
                        if exc.code != "lease_lost":
                            raise
        except Exception as exc:  # noqa: BLE001 - anything else (deadlock, IntegrityError…) fails the test
            errors.append(repr(exc))
        finally:
            connection.close()

    def wait_for(condition) -> None:
        deadline = time.monotonic() + HANG_GUARD
        while not condition() and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)

    thread = threading.Thread(target=churn)
    thread.start()
    wait_for(lambda: claims["n"] >= 5)
    if how == "remove":
        services.worker_remove(
            project_id=project.pk, annotator_id=annotator.pk, reason="gold accuracy", actor=None
        )
    elif how == "suspend":
        services.annotator_set_status(
            annotator_id=annotator.pk, status="suspended", reason="fraud", actor=None
        )
    else:
        services.qualification_revoke(
            annotator_id=annotator.pk, qualification_id=qualification.pk, reason="expired", actor=None
        )
    # Everything committed before the staff call returned is visible now; nothing may be added later.
    claimed_by_then = Assignment.objects.filter(annotator=annotator, project=project).count()
    live_right_after = Assignment.objects.filter(
        annotator=annotator, project=project, status=Assignment.Status.ACTIVE
    ).count()
    # the churn keeps trying: wait for 20 more claim attempts after the staff call returned
    attempts_by_then = claims["attempts"]
    wait_for(lambda: claims["attempts"] >= attempts_by_then + 20)
    stop.set()
    thread.join(HANG_GUARD)
    assert not thread.is_alive(), "the churn thread is still running (hang guard)"
    assert errors == []
    assert claims["attempts"] >= attempts_by_then + 20
    assert claims["n"] >= 5
    assert live_right_after == 0
    assert Assignment.objects.filter(annotator=annotator, project=project).count() == claimed_by_then
    assert not Assignment.objects.filter(
        annotator=annotator, project=project, status=Assignment.Status.ACTIVE
    ).exists()
    task_slots = sum(Task.objects.filter(project=project).values_list("slots_taken", flat=True))
    assert (
        task_slots == Assignment.objects.filter(project=project, status__in=["active", "submitted"]).count()
    )
