"""Concurrent claims on PostgreSQL: an unqualified, suspended or removed annotator never receives a
task of the project, and a removal or suspension racing their claims leaves them holding nothing.
Real connections, one per thread (``transaction=True``)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection

from annotation import services
from annotation.models import Annotator, Assignment, ProjectWorker, Task
from tests.annotation.factories import ProjectFactory
from tests.clients.factories import UserFactory

CATS = {"categories": ["car", "pedestrian", "cyclist"]}


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
        barrier.wait(30)
        while True:
            try:
                claim = services.assignment_claim(annotator=annotator, project_id=project.pk)
            except Exception as exc:  # noqa: BLE001 - a refused claim (403) is an outcome here
                served.append((annotator.pk, type(exc).__name__))
                return
            if claim is None:
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
    except Exception as exc:  # noqa: BLE001
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
        t.join(240)
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
    claims = {"n": 0}
    errors: list = []

    def churn():
        try:
            while not stop.is_set():
                try:
                    claim = services.assignment_claim(
                        annotator=annotator, project_id=project.pk, resume=False
                    )
                except Exception:  # noqa: BLE001 - suspended: 403
                    claim = None
                if claim is None:
                    time.sleep(0.001)
                    continue
                claims["n"] += 1
                a = claim.assignment
                if claims["n"] % 2:  # leave some leases live: the removal must take them back
                    try:
                        services.assignment_release(
                            annotator=annotator, assignment_id=a.pk, claim_version=a.claim_version
                        )
                    except Exception:  # noqa: BLE001 - released by the removal first
                        pass
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))
        finally:
            connection.close()

    thread = threading.Thread(target=churn)
    thread.start()
    deadline = time.monotonic() + 30
    while claims["n"] < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
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
    time.sleep(0.5)  # the churn keeps trying
    stop.set()
    thread.join(30)
    assert errors == []
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
