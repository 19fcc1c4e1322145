"""Concurrent bulk imports on real PostgreSQL connections: idempotent on ``unique_id``, all or nothing.

Identical requests sent at once (and the same items in the opposite order, which makes two COPYs
wait for each other's rows) all succeed, every one answers the same task ids, and each task and its
``task.created`` event exist once. What makes it true is in ``annotation/services/tasks.py``
(``_task_bulk_insert``): the unique index on (client, mode, unique_id) makes a COPY that meets a
row of an uncommitted concurrent import wait for it and then fail; that COPY is rolled back to its
savepoint and the lookup runs again. Without the retry the losers answer an IntegrityError (or a
deadlock); without the unique index there would be duplicates.
"""

from __future__ import annotations

import threading
import traceback

import pytest
from django.db import connection

from annotation import services
from annotation.models import Task
from core.models import Event
from tests.annotation.factories import BoxProjectFactory

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

N_ITEMS = 400
TIMEOUT = 120


def _items(n: int) -> list[dict]:
    return [{"params": {"attachment": f"/media/frames/{i}.png"}, "unique_id": f"frame-{i}"} for i in range(n)]


def _run_at_once(calls) -> tuple[list, list[str]]:
    """Run each call in its own thread with its own connection, released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list[str] = []

    def run(i, call):
        try:
            barrier.wait(timeout=TIMEOUT)
            results[i] = call()
        except Exception:
            errors.append(traceback.format_exc())
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT * 2)
    assert not any(t.is_alive() for t in threads), "an import hung"
    return results, errors


def test_identical_concurrent_imports_create_each_task_once_and_all_answer_the_same_ids():
    project = BoxProjectFactory()
    items = _items(N_ITEMS)

    def call(order):
        def go():
            batch = items if order == 1 else items[::-1]
            out = services.task_bulk_create(client=project.client, actor=None, project=project, items=batch)
            return {r.unique_id: (r.task_id, r.created) for r in out}

        return go

    results, errors = _run_at_once([call(1), call(1), call(-1), call(1), call(-1), call(1)])

    assert errors == []
    ids = {uid: task_id for uid, (task_id, _created) in results[0].items()}
    assert all({uid: t for uid, (t, _c) in r.items()} == ids for r in results)
    created = [sum(c for _t, c in r.values()) for r in results]
    assert sum(created) == N_ITEMS  # each task created by exactly one of the requests
    tasks = Task.objects.filter(project=project)
    assert tasks.count() == N_ITEMS
    assert set(tasks.values_list("id", flat=True)) == set(ids.values())
    assert Event.objects.filter(kind="task.created", entity_id__in=list(ids.values())).count() == N_ITEMS


def test_overlapping_concurrent_imports_create_the_union_once():
    project = BoxProjectFactory()
    items = _items(N_ITEMS)
    halves = [items[: N_ITEMS * 3 // 4], items[N_ITEMS // 4 :][::-1], items[::2], items[1::2][::-1]]

    def call(batch):
        return lambda: services.task_bulk_create(
            client=project.client, actor=None, project=project, items=batch
        )

    results, errors = _run_at_once([call(b) for b in halves])

    assert errors == []
    by_uid: dict = {}
    for out in results:
        for r in out:
            assert by_uid.setdefault(r.unique_id, r.task_id) == r.task_id
    assert len(by_uid) == N_ITEMS
    assert Task.objects.filter(project=project).count() == N_ITEMS
    assert Event.objects.filter(kind="task.created", entity_id__in=list(by_uid.values())).count() == N_ITEMS
