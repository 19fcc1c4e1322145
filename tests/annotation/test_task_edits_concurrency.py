"""Concurrent tag edits on real connections: the task row lock keeps every edit (no lost update),
and the same race without the lock does lose them (so the test can fail)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from annotation import services
from annotation.models import Task
from annotation.services import task_edits
from tests.annotation.factories import ProjectFactory, TaskFactory

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]
WRITERS = 6


def add_tags_concurrently(client, task_id) -> list[BaseException]:
    errors: list[BaseException] = []

    def add(tag: str):
        try:
            services.task_add_tags(client=client, actor=None, task_id=task_id, tags=[tag])
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(f"t{i}",)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


def test_concurrent_tag_additions_all_survive(client_a):
    task = TaskFactory(project=ProjectFactory(client=client_a))
    assert add_tags_concurrently(client_a, task.id) == []
    assert sorted(Task.objects.get(pk=task.id).tags) == [f"t{i}" for i in range(WRITERS)]


def test_without_the_row_lock_tag_additions_are_lost(client_a, monkeypatch):
    task = TaskFactory(project=ProjectFactory(client=client_a))
    everyone_has_read = threading.Barrier(WRITERS, timeout=20)
    real_touch = task_edits._touch

    def unlocked(*, client, task_id, is_test):
        return Task.objects.select_related("project", "batch", "client").get(
            client=client, is_test=is_test, pk=task_id
        )

    def touch_after_all_reads(task, fields):
        everyone_has_read.wait()  # every writer read the same tags before any writes
        real_touch(task, fields)

    monkeypatch.setattr(task_edits, "lock_task", unlocked)
    monkeypatch.setattr(task_edits, "_touch", touch_after_all_reads)
    assert add_tags_concurrently(client_a, task.id) == []
    assert len(Task.objects.get(pk=task.id).tags) == 1
