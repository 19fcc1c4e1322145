"""Races between two transactions, made deterministic with an event (real connections)."""

import threading
import time

import pytest
from django.db import connection, transaction

from annotation import services
from annotation.models import Assignment, Submission
from clients.errors import Conflict
from tests.annotation.factories import AnnotatorFactory, ProjectFactory, TaskFactory


@pytest.mark.django_db(transaction=True)
def test_a_submit_racing_a_cancel_is_refused_and_changes_nothing(client_a):
    task = TaskFactory(project=ProjectFactory(client=client_a))
    annotator = AnnotatorFactory()
    assignment = services.assignment_claim(annotator=annotator).assignment
    canceled, release = threading.Event(), threading.Event()
    outcome = {}

    def cancel_and_hold():
        try:
            with transaction.atomic():
                services.task_cancel(client=client_a, actor=None, task_id=task.id)
                canceled.set()
                release.wait(10)  # keep the canceled row uncommitted while the submit starts
        finally:
            connection.close()

    def submit():
        try:
            services.assignment_submit(
                annotator=annotator,
                assignment_id=assignment.pk,
                claim_version=assignment.claim_version,
                answer={"category": "car"},
            )
            outcome["result"] = "accepted"
        except Conflict as exc:
            outcome["result"] = exc.code
        finally:
            connection.close()

    canceller = threading.Thread(target=cancel_and_hold)
    canceller.start()
    assert canceled.wait(10)
    submitter = threading.Thread(target=submit)
    submitter.start()
    time.sleep(0.5)  # the submit is now waiting on the assignment row the cancel holds
    release.set()
    canceller.join(10)
    submitter.join(10)

    # the cancel released the lease; the submit waited on the assignment row, then found it gone
    assert outcome["result"] == "lease_lost"
    task.refresh_from_db()
    assert (task.status, task.answers_received, task.slots_taken) == ("canceled", 0, 0)
    assert Submission.objects.count() == 0
    assert Assignment.objects.get(pk=assignment.pk).status == "released"


@pytest.mark.django_db(transaction=True)
def test_a_cancel_during_a_submit_waits_instead_of_deadlocking(client_a, monkeypatch):
    from annotation import tasktypes

    task = TaskFactory(project=ProjectFactory(client=client_a))
    annotator = AnnotatorFactory()
    assignment = services.assignment_claim(annotator=annotator).assignment
    locked, go = threading.Event(), threading.Event()
    real_check = tasktypes.check_answer

    def check_then_pause(*args, **kwargs):
        locked.set()  # the submit holds the assignment row here, and has not touched the task yet
        go.wait(10)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(tasktypes, "check_answer", check_then_pause)
    outcome = {}

    def run(name, fn):
        try:
            fn()
            outcome[name] = "ok"
        except Conflict as exc:
            outcome[name] = exc.code
        except Exception as exc:  # noqa: BLE001 - a deadlock surfaces here; the assertion names it
            outcome[name] = type(exc).__name__
        finally:
            connection.close()

    submitter = threading.Thread(
        target=run,
        args=(
            "submit",
            lambda: services.assignment_submit(
                annotator=annotator,
                assignment_id=assignment.pk,
                claim_version=assignment.claim_version,
                answer={"category": "car"},
            ),
        ),
    )
    canceller = threading.Thread(
        target=run,
        args=("cancel", lambda: services.task_cancel(client=client_a, actor=None, task_id=task.id)),
    )
    submitter.start()
    assert locked.wait(10)
    canceller.start()
    time.sleep(1.5)  # longer than PostgreSQL's deadlock_timeout (1 s): a lock cycle would be found now
    go.set()
    submitter.join(15)
    canceller.join(15)

    assert outcome == {"submit": "ok", "cancel": "task_not_pending"}
    task.refresh_from_db()
    assert task.status == "completed"
