"""docs/reliability.md (claim): no task gets more than ``overlap`` live-or-submitted assignments, and
never the same annotator twice, when many annotators claim at once on real PostgreSQL connections.

16 annotator threads (each with its own database connection) claim and submit through the
services until the work runs out, while a monitor thread samples the over-assignment query on a
connection of its own. The guards under test are in ``quorum_claim``
(``annotation/lifecycle/functions.sql``): ``FOR UPDATE SKIP LOCKED``, the ``slots_taken < overlap``
compare-and-set, and the ``task_slots_within_overlap`` CHECK constraint. Without them this test
fails (see the issue note).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import Counter

import pytest
from django.db import connection
from django.db.models import F, Sum

from annotation import services
from annotation.models import Annotator, Assignment, Submission, Task
from billing.models import Account, LedgerEntry, LedgerTransaction
from clients import services as client_services
from tests.annotation.factories import CATEGORIES, ProjectFactory

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

N_TASKS = 2_000
OVERLAP = 3
PRICE = 7
N_ANNOTATORS = 16
MONITOR_INTERVAL = 0.05
# A hang guard only, never a speed requirement: a thread still working after this long (a livelock,
# a lost wake-up) records a failure instead of hanging the suite. The work itself takes well under a
# minute on an idle 2-core machine; the guard is generous so a loaded machine cannot trip it.
HANG_GUARD_SECONDS = 1500
MAX_ERRORS_PER_THREAD = 20

OVER_ASSIGNED_SQL = """
SELECT task_id FROM annotation_assignment
 WHERE status IN ('active', 'submitted')
 GROUP BY task_id HAVING count(*) > %s
"""
DUPLICATE_PAIRS_SQL = """
SELECT task_id, annotator_id FROM annotation_assignment GROUP BY task_id, annotator_id HAVING count(*) > 1
"""
WELL_ANSWERED_SQL = """
SELECT count(*) FROM (
    SELECT task_id FROM annotation_assignment WHERE status = 'submitted'
     GROUP BY task_id HAVING count(*) = %(k)s AND count(DISTINCT annotator_id) = %(k)s
) AS answered
"""


def _rows(sql: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _open_for(annotator: Annotator, project_id) -> bool:
    """Is there a task this annotator could still take? A claim that returns None under
    SKIP LOCKED only means "nothing unlocked right now": another claimer or a submit may hold
    the last open rows for a moment, so a real client asks again."""
    return (
        Task.objects.filter(project_id=project_id, status=Task.Status.PENDING, slots_taken__lt=F("overlap"))
        .exclude(assignments__annotator=annotator)
        .exists()
    )


@pytest.mark.timeout(HANG_GUARD_SECONDS + 300)  # above the threads' guard, so they report first
def test_sixteen_annotators_never_over_assign_two_thousand_tasks():
    # given: 2,000 released tasks that each need 3 answers, and 16 active annotators
    # A price, so completions post ledger transactions concurrently too (accounts created on first
    # use by racing connections; the deferred balance trigger at every commit).
    project = ProjectFactory(overlap=OVERLAP, max_overlap=OVERLAP, price_per_task=PRICE)
    services.task_bulk_create(
        client=project.client,
        actor=None,
        project=project,
        items=[{"params": {"attachment": f"Frame {i}", "attachment_type": "text"}} for i in range(N_TASKS)],
    )
    assert Task.objects.filter(project=project, released=True, status=Task.Status.PENDING).count() == N_TASKS
    annotators = [
        services.annotator_create(
            user=client_services.user_create(email=f"worker{i}@example.test"), active=True
        )
        for i in range(N_ANNOTATORS)
    ]

    barrier = threading.Barrier(N_ANNOTATORS + 1)
    stop_monitor = threading.Event()
    errors: list[str] = []
    cycles = Counter()
    samples: list[int] = []  # over-assigned tasks seen per sample
    seen_over_assigned: set = set()

    def annotate(annotator: Annotator, n: int) -> None:
        failures = 0
        try:
            barrier.wait(timeout=60)
            deadline = time.monotonic() + HANG_GUARD_SECONDS
            while time.monotonic() < deadline and failures < MAX_ERRORS_PER_THREAD:
                try:
                    claim = services.assignment_claim(annotator=annotator, resume=False)
                    if claim is None:
                        if not _open_for(annotator, project.id):
                            return
                        time.sleep(0.005)
                        continue
                    services.assignment_submit(
                        annotator=annotator,
                        assignment_id=claim.assignment.pk,
                        claim_version=claim.assignment.claim_version,
                        answer={"category": CATEGORIES[n % len(CATEGORIES)]},
                    )
                    cycles[n] += 1
                except Exception as exc:  # IntegrityError, deadlock, 409…: all are failures here
                    failures += 1
                    errors.append(f"annotator {n}: {type(exc).__name__}: {exc}")
            if failures < MAX_ERRORS_PER_THREAD:
                errors.append(f"annotator {n}: still working after {HANG_GUARD_SECONDS} s (hang guard)")
        except Exception:
            errors.append(f"annotator {n}: {traceback.format_exc()}")
        finally:
            connection.close()

    def monitor() -> None:
        try:
            barrier.wait(timeout=60)
            while not stop_monitor.is_set():
                over = _rows(OVER_ASSIGNED_SQL, [OVERLAP])
                samples.append(len(over))
                seen_over_assigned.update(row[0] for row in over)
                time.sleep(MONITOR_INTERVAL)
        except Exception:
            errors.append(f"monitor: {traceback.format_exc()}")
        finally:
            connection.close()

    # when: they all claim and submit at once until the work runs out
    threads = [
        threading.Thread(target=annotate, args=(a, n), name=f"annotator-{n}")
        for n, a in enumerate(annotators)
    ]
    watcher = threading.Thread(target=monitor, name="monitor")
    started = time.monotonic()
    for thread in [watcher, *threads]:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    stop_monitor.set()
    watcher.join()

    # then: every task was completed with exactly 3 answers from 3 distinct annotators, and no
    # task ever had more than 3 live-or-submitted assignments, at the end or in any sample
    tasks = Task.objects.filter(project=project)
    figures = {
        "not_completed": tasks.exclude(status=Task.Status.COMPLETED).count(),
        "over_assigned_final": len(_rows(OVER_ASSIGNED_SQL, [OVERLAP])),
        "over_assigned_sampled": len(seen_over_assigned),
        "samples_with_violation": sum(1 for n in samples if n),
        "duplicate_task_annotator": len(_rows(DUPLICATE_PAIRS_SQL)),
        "tasks_without_3_distinct_submits": N_TASKS - _rows(WELL_ANSWERED_SQL, {"k": OVERLAP})[0][0],
        "counter_mismatches": tasks.exclude(slots_taken=OVERLAP, answers_received=OVERLAP).count(),
        "thread_errors": len(errors),
    }
    report = (
        f"{sum(cycles.values())} claim+submit cycles by {N_ANNOTATORS} threads in {elapsed:.1f} s; "
        f"{len(samples)} monitor samples; figures: {figures}; first errors: {errors[:5]}"
    )
    print(report)
    assert len(samples) > 0, report
    assert figures == dict.fromkeys(figures, 0), report
    assert sum(cycles.values()) == N_TASKS * OVERLAP, report
    assert Submission.objects.filter(task__project=project).count() == N_TASKS * OVERLAP
    assert not Assignment.objects.filter(project=project).exclude(status=Assignment.Status.SUBMITTED).exists()
    # and the money: one charge per task, balanced, the receivable equal to tasks x price
    assert LedgerTransaction.objects.filter(kind="task_charge").count() == N_TASKS
    assert LedgerEntry.objects.aggregate(total=Sum("amount"))["total"] == 0
    receivable = LedgerEntry.objects.filter(account__kind="client_receivable", account__client=project.client)
    assert receivable.aggregate(total=Sum("amount"))["total"] == N_TASKS * PRICE
    assert Account.objects.filter(kind="platform_revenue").count() == 1
