"""Races between two transactions on real connections, made deterministic: each step waits for
an event, or for PostgreSQL to show that the other transaction is blocked on a lock
(``pg_stat_activity.wait_event_type = 'Lock'``), never for a fixed time."""

import threading
import time

import pytest
from django.db import connection, transaction

from annotation import services
from annotation.models import Assignment, Submission
from core.errors import Conflict
from tests.annotation.factories import AnnotatorFactory, ProjectFactory, TaskFactory

HANG_GUARD = 60  # seconds: only a hung test waits this long; a passing one never does


def backend_pid() -> int:
    """The PostgreSQL backend of this thread's connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def blocked_on_a_lock(pid: int, thread: threading.Thread) -> bool:
    """Wait until backend ``pid`` waits on a lock (True), or ``thread`` ends without it (False)."""
    deadline = time.monotonic() + HANG_GUARD
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
            row = cursor.fetchone()
        if row is not None and row[0] == "Lock":
            return True
        if not thread.is_alive():
            return False
        time.sleep(0.01)
    raise AssertionError(f"hang guard: backend {pid} neither blocked nor finished in {HANG_GUARD} s")


@pytest.mark.django_db(transaction=True)
def test_a_submit_racing_a_cancel_is_refused_and_changes_nothing(client_a):
    task = TaskFactory(project=ProjectFactory(client=client_a))
    annotator = AnnotatorFactory()
    assignment = services.assignment_claim(annotator=annotator).assignment
    canceled, release, submitting = threading.Event(), threading.Event(), threading.Event()
    outcome, pids = {}, {}

    def cancel_and_hold():
        try:
            with transaction.atomic():
                services.task_cancel(client=client_a, actor=None, task_id=task.id)
                canceled.set()
                release.wait(HANG_GUARD)  # keep the canceled row uncommitted while the submit starts
        finally:
            connection.close()

    def submit():
        try:
            pids["submit"] = backend_pid()
            submitting.set()
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
    assert canceled.wait(HANG_GUARD)
    submitter = threading.Thread(target=submit)
    submitter.start()
    assert submitting.wait(HANG_GUARD)
    # the submit is now waiting on the assignment row the cancel holds (not yet answered)
    assert blocked_on_a_lock(pids["submit"], submitter), outcome
    release.set()
    canceller.join(HANG_GUARD)
    submitter.join(HANG_GUARD)
    assert not canceller.is_alive() and not submitter.is_alive()

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
        locked.set()  # the submit's SQL step (quorum_submit) has run: it holds the assignment and task rows
        go.wait(HANG_GUARD)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(tasktypes, "check_answer", check_then_pause)
    outcome, pids = {}, {}
    cancelling = threading.Event()

    def run(name, fn):
        try:
            pids[name] = backend_pid()
            if name == "cancel":
                cancelling.set()
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
    assert locked.wait(HANG_GUARD)
    canceller.start()
    assert cancelling.wait(HANG_GUARD)
    # the cancel waits on a row the paused submit holds (a lock cycle would make PostgreSQL abort
    # one of the two with a deadlock error, which the outcome below would name)
    assert blocked_on_a_lock(pids["cancel"], canceller), outcome
    go.set()
    submitter.join(HANG_GUARD)
    canceller.join(HANG_GUARD)
    assert not canceller.is_alive() and not submitter.is_alive()

    assert outcome == {"submit": "ok", "cancel": "task_not_pending"}
    task.refresh_from_db()
    assert task.status == "completed"
