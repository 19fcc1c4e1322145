"""A task's project and client are one foreign key (migration 0020): the project must exist and
the task's client must be the project's. Two separate keys, as before, accepted a task filed under
another client's project."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from annotation.models import Task
from tests.annotation.factories import ProjectFactory, TaskFactory
from tests.clients.factories import ClientFactory

pytestmark = pytest.mark.django_db


def _checked(task=None, **changes) -> None:
    """Write ``changes`` to ``task`` (a fresh one by default) and run the deferred constraint
    checks now."""
    task = task or TaskFactory()
    with transaction.atomic():
        Task.objects.filter(pk=task.pk).update(**changes)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_a_task_under_another_clients_project_is_refused():
    other_project = ProjectFactory()
    with pytest.raises(IntegrityError, match="task_project_client_fk"):
        _checked(project_id=other_project.pk)


def test_a_task_of_a_client_that_is_not_its_projects_is_refused():
    with pytest.raises(IntegrityError, match="task_project_client_fk"):
        _checked(client_id=ClientFactory().pk)


def test_a_task_of_a_missing_project_is_refused():
    with pytest.raises(IntegrityError, match="task_project_client_fk"):
        _checked(project_id="00000000-0000-7000-8000-000000000000")


def test_a_consistent_change_is_accepted():
    task = TaskFactory()
    project = ProjectFactory(client=task.client)
    _checked(task, project_id=project.pk)
    assert Task.objects.get(pk=task.pk).project_id == project.pk
