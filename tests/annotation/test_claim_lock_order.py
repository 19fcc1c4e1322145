"""quorum_claim's lock order (annotation/lifecycle/README.md, "Lock order").

1. The claim's wait for a task row is bounded. ``FOR UPDATE SKIP LOCKED`` does not always skip:
   when the updater of a candidate row commits while the claim is locking it, PostgreSQL locks the
   newer versions by following the update chain and waits for whoever holds the newest one (a
   submit of that task), whatever the wait policy. The 16-annotator test's PostgreSQL log shows
   claims waiting there ("while locking updated version ... of tuple in relation
   annotation_task"). The claim holds its standing at that point, so this closed a cycle with two
   completing submits (they lock their task, then the round's standings in annotator order):
   submit 1 waiting for the claim's standing, the claim waiting for submit 2's task, submit 2
   waiting for a standing submit 1 held. That race is inside PostgreSQL's row locking and cannot
   be staged from SQL; the claim now gives up after ``lock_timeout`` (below deadlock_timeout) and
   runs again, which is tested here with the error it raises, and the timeout must not outlive the
   task statement.

2. A project passed over for want of budget or credit keeps no budget or credit row locked while
   the claim takes the next project's standing gate. Before, the refused upsert's row lock stayed
   with the claim, and three sessions deadlocked: claim A (two projects of one client) was refused
   the client's credit in P1, kept the credit row and waited at its P2 standing for a completing
   submit; the submit held A's P2 standing and waited for B's; claim B held its P2 standing and
   waited for the credit row. Each step runs on its own connection and the next starts only once
   PostgreSQL shows the previous one waiting (``pg_blocking_pids``), so the interleaving is the same
   on every run.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import OperationalError, connection
from psycopg.types.json import Jsonb

from annotation import services
from annotation.lifecycle import leases
from annotation.models import Assignment
from billing.models import ClientCredit
from clients import services as client_services
from tests.annotation.factories import ProjectFactory

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

HANG_GUARD = 60  # seconds; a passing test waits well under one

CLAIM_SQL = "SELECT outcome FROM quorum_claim(%s, %s, false, now(), 3, 'test')"
SUBMIT_SQL = "SELECT outcome, task_status FROM quorum_submit(%s, %s, %s, %s, now(), 'test')"
STANDING_SQL = "SELECT id FROM annotation_projectworker WHERE project_id = %s AND annotator_id = %s"


def _connect(dsn: str) -> psycopg.Connection:
    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute("SET deadlock_timeout = '100ms'")  # a deadlock, if any, is found at once
    return conn


def _wait_blocked(monitor: psycopg.Connection, pid: int) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while time.monotonic() < deadline:
        if monitor.execute("SELECT cardinality(pg_blocking_pids(%s))", [pid]).fetchone()[0]:
            return
        time.sleep(0.02)
    raise AssertionError(f"backend {pid} never waited for a lock")


class Step(threading.Thread):
    """One session's statement, run on its own connection; keeps the outcome or the error."""

    def __init__(self, conn: psycopg.Connection, sql: str, params: list, *, in_transaction: bool = False):
        super().__init__(daemon=True)
        self.conn, self.sql, self.params, self.in_transaction = conn, sql, params, in_transaction
        self.result = self.error = None

    def run(self) -> None:
        try:
            if self.in_transaction:
                with self.conn.transaction():
                    self.result = self.conn.execute(self.sql, self.params).fetchone()
            else:
                self.result = self.conn.execute(self.sql, self.params).fetchone()
        except Exception as exc:  # a DeadlockDetected here is the failure under test
            self.error = exc


def test_a_claim_passing_a_project_over_for_credit_keeps_no_budget_lock_at_the_next_standing_gate():
    # given: one client with two priced projects, P1 served first
    p1 = ProjectFactory(overlap=3, max_overlap=3, price_per_task=7, priority=5)
    p2 = ProjectFactory(client=p1.client, overlap=3, max_overlap=3, price_per_task=7, priority=1)
    for project, n in ((p1, 2), (p2, 3)):
        services.task_bulk_create(
            client=project.client,
            actor=None,
            project=project,
            items=[{"params": {"attachment": f"Frame {i}", "attachment_type": "text"}} for i in range(n)],
        )
    a, b, z = sorted(
        (
            services.annotator_create(
                user=client_services.user_create(email=f"lock{i}@example.test"), active=True
            )
            for i in range(3)
        ),
        key=lambda annotator: str(annotator.pk),
    )
    assert str(a.pk) < str(b.pk)
    # and a P2 task answered by A and B, whose third lease Z holds (Z's submit completes it)
    leases = {}
    for annotator in (a, b, z):
        claim = services.assignment_claim(annotator=annotator, project_id=p2.pk, resume=False)
        leases[annotator.pk] = claim.assignment
    assert len({lease.task_id for lease in leases.values()}) == 1
    for annotator in (a, b):
        lease = leases[annotator.pk]
        services.assignment_submit(
            annotator=annotator,
            assignment_id=lease.pk,
            claim_version=lease.claim_version,
            answer={"category": "car"},
        )
    assert ClientCredit.objects.filter(client=p1.client).exists()  # the P2 claims reserved spend

    connection.ensure_connection()
    dsn = connection.connection.info.dsn
    monitor, holder = _connect(dsn), _connect(dsn)
    sessions = [_connect(dsn) for _ in range(3)]
    steps: list[Step] = []
    try:
        # a fourth session holds the client's credit row, so the claims stop there in turn
        holder.execute("BEGIN")
        holder.execute("SELECT 1 FROM billing_clientcredit WHERE client_id = %s FOR UPDATE", [p1.client_id])

        # when: claim A (every project: P1 first) waits for the credit row in P1 ...
        claim_a = Step(sessions[0], CLAIM_SQL, [a.pk, None])
        # ... claim B (P2 only) holds its P2 standing and waits for the credit row too ...
        claim_b = Step(sessions[1], CLAIM_SQL, [b.pk, p2.pk])
        # ... and Z's completing submit holds A's P2 standing and waits for B's
        lease = leases[z.pk]
        submit_z = Step(
            sessions[2],
            SUBMIT_SQL,
            [lease.pk, z.pk, lease.claim_version, Jsonb({"category": "car"})],
            in_transaction=True,
        )
        for step, conn in zip((claim_a, claim_b, submit_z), sessions, strict=True):
            steps.append(step)
            step.start()
            _wait_blocked(monitor, conn.info.backend_pid)

        # and the client's credit runs out: claim A is refused in P1 and moves on to P2
        holder.execute(
            "UPDATE billing_clientcredit SET credit_limit = 0 WHERE client_id = %s", [p1.client_id]
        )
        holder.execute("COMMIT")
        for step in steps:
            step.join(HANG_GUARD)

        # then: nobody deadlocked; the submit completed the task and neither claim was served
        assert [step.is_alive() for step in steps] == [False, False, False]
        assert [step.error for step in steps] == [None, None, None]
        assert submit_z.result == ("ok", "completed")
        assert claim_a.result == ("none",)
        assert claim_b.result == ("none",)
        assert not Assignment.objects.filter(annotator=a, project=p1).exists()
    finally:
        for conn in (holder, *sessions, monitor):
            conn.close()


class _LockTimeout(Exception):
    sqlstate = "55P03"


def _annotator_with_work():
    project = ProjectFactory(overlap=1, max_overlap=1)
    services.task_bulk_create(
        client=project.client,
        actor=None,
        project=project,
        items=[{"params": {"attachment": "Frame", "attachment_type": "text"}}],
    )
    annotator = services.annotator_create(
        user=client_services.user_create(email="timeout@example.test"), active=True
    )
    return project, annotator


def _times_out(monkeypatch, timeouts: int) -> list:
    """Make the first ``timeouts`` quorum_claim calls fail as PostgreSQL fails them when the claim's
    lock_timeout runs out; the list counts the calls."""
    attempts = []
    real_cursor = connection.cursor

    class TimesOut:
        def __init__(self, inner):
            self.inner = inner

        def __enter__(self):
            self.inner.__enter__()
            return self

        def __exit__(self, *exc):
            return self.inner.__exit__(*exc)

        def execute(self, sql, params=None):
            if sql == leases.CLAIM_CALL_SQL:
                attempts.append(1)
                if len(attempts) <= timeouts:
                    error = OperationalError("canceling statement due to lock timeout")
                    error.__cause__ = _LockTimeout()
                    raise error
            return self.inner.execute(sql, params)

        def fetchone(self):
            return self.inner.fetchone()

    monkeypatch.setattr(leases.connection, "cursor", lambda: TimesOut(real_cursor()))
    return attempts


def test_a_claim_whose_task_wait_timed_out_runs_again(monkeypatch):
    project, annotator = _annotator_with_work()
    attempts = _times_out(monkeypatch, 1)
    claim = leases.claim(annotator=annotator, project_id=project.pk, resume=False)
    assert len(attempts) == 2
    assert claim is not None and claim.assignment.project_id == project.pk


def test_a_claim_whose_task_wait_timed_out_every_time_finds_nothing_now(monkeypatch):
    project, annotator = _annotator_with_work()
    attempts = _times_out(monkeypatch, leases.CLAIM_ATTEMPTS)
    assert leases.claim(annotator=annotator, project_id=project.pk, resume=False) is None
    assert len(attempts) == leases.CLAIM_ATTEMPTS  # the bound, then "nothing claimable now"


def test_the_claims_lock_timeout_does_not_outlive_its_task_statement():
    project, annotator = _annotator_with_work()
    connection.ensure_connection()
    with _connect(connection.connection.info.dsn) as conn:
        conn.execute("SET lock_timeout = '7s'")
        with conn.transaction(force_rollback=True):
            outcome = conn.execute(CLAIM_SQL, [annotator.pk, project.pk]).fetchone()
            assert outcome == ("claimed",)
            assert conn.execute("SHOW lock_timeout").fetchone() == ("7s",)
