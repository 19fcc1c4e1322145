"""annotation.services.task_edits and the param history in annotation.services.projects."""

from __future__ import annotations

import pytest
from django.utils import timezone

from annotation import selectors, services
from annotation.models import ProjectParamVersion, Task, TaskAudit
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import Event, WebhookDelivery
from tests.annotation.factories import ProjectFactory, TaskFactory
from tests.wakeups import intercept

pytestmark = pytest.mark.django_db


def completed_task(**kwargs) -> Task:
    task = TaskFactory(
        status=Task.Status.COMPLETED, response={"category": "car"}, completed_at=timezone.now(), **kwargs
    )
    return Task.objects.select_related("project", "batch").get(pk=task.pk)


def test_tags_are_deduplicated_and_capped(client_a):
    task = TaskFactory(project=ProjectFactory(client=client_a), tags=["a"])
    assert services.task_add_tags(
        client=client_a, actor=None, task_id=task.id, tags=["b", "a", "b"]
    ).tags == ["a", "b"]
    with pytest.raises(ValidationFailed, match="at most 100"):
        services.task_add_tags(
            client=client_a, actor=None, task_id=task.id, tags=[f"t{i}" for i in range(99)]
        )
    task.refresh_from_db()
    assert task.tags == ["a", "b"]
    kinds = list(Event.objects.filter(entity_id=task.id).values_list("kind", flat=True))
    assert kinds == ["task.tags_added"]


def test_edits_of_another_mode_or_client_are_404(client_a, client_b):
    task = TaskFactory(project=ProjectFactory(client=client_a))
    for client, is_test in ((client_b, False), (client_a, True)):
        with pytest.raises(NotFound):
            services.task_set_metadata(
                client=client, actor=None, task_id=task.id, metadata={}, is_test=is_test
            )
    with pytest.raises(NotFound):
        services.task_set_tags(client=client_a, actor=None, task_id="not-a-uuid", tags=[])


def test_unique_id_is_unique_per_client_and_mode(client_a):
    project = ProjectFactory(client=client_a)
    first, second, sandbox = (
        TaskFactory(project=project, unique_id="u"),
        TaskFactory(project=project),
        TaskFactory(project=project, is_test=True),
    )
    with pytest.raises(Conflict) as excinfo:
        services.task_set_unique_id(client=client_a, actor=None, task_id=second.id, unique_id="u")
    assert excinfo.value.code == "duplicate_unique_id"
    assert (
        services.task_set_unique_id(
            client=client_a, actor=None, task_id=sandbox.id, unique_id="u", is_test=True
        ).unique_id
        == "u"
    )
    assert (
        services.task_set_unique_id(client=client_a, actor=None, task_id=first.id, unique_id="u").unique_id
        == "u"
    )  # no-op
    assert Event.objects.filter(kind="task.unique_id_set").count() == 1
    assert services.task_clear_unique_id(client=client_a, actor=None, task_id=first.id).unique_id is None
    assert (
        services.task_clear_unique_id(client=client_a, actor=None, task_id=first.id).unique_id is None
    )  # twice: no-op
    assert Event.objects.filter(kind="task.unique_id_cleared").count() == 1


def test_each_audit_queues_its_own_scale_shaped_callback(
    client_a, django_capture_on_commit_callbacks, monkeypatch
):
    intercept(monkeypatch, "core.tasks.deliver", lambda delivery_id: None)
    task = completed_task(
        project=ProjectFactory(client=client_a), callback_url="https://hooks.example.com/cb"
    )
    first = services.task_audit(client=client_a, actor=None, task_id=task.id, accepted=True)
    second = services.task_audit(client=client_a, actor=None, task_id=task.id, accepted=False, comments="no")
    deliveries = list(WebhookDelivery.objects.order_by("created_at"))
    assert [d.dedupe_key for d in deliveries] == [
        f"task:{task.id}:audit:{first.id}:callback",
        f"task:{task.id}:audit:{second.id}:callback",
    ]
    body = deliveries[1].payload
    assert set(body) == {"task", "response", "task_id", "status"}
    assert [a["audit_result"] for a in body["task"]["audits"]] == ["accepted", "rejected"]
    assert deliveries[1].event_type == "task.audited" and deliveries[1].url == "https://hooks.example.com/cb"


def test_an_audit_without_callback_url_queues_nothing(client_a):
    task = completed_task(project=ProjectFactory(client=client_a))
    services.task_audit(client=client_a, actor="system", task_id=task.id, accepted=True, comments=None)
    assert WebhookDelivery.objects.count() == 0
    assert TaskAudit.objects.get().audited_by == "system"


@pytest.mark.parametrize("status", [Task.Status.PENDING, Task.Status.CANCELED, Task.Status.ERROR])
def test_only_completed_tasks_can_be_audited(client_a, status):
    task = TaskFactory(project=ProjectFactory(client=client_a), status=status)
    with pytest.raises(ValidationFailed, match="completed"):
        services.task_audit(client=client_a, actor=None, task_id=task.id, accepted=True)
    assert TaskAudit.objects.count() == 0 and Event.objects.count() == 0


def test_param_history_grows_on_params_or_instruction_changes_only(client_a):
    project = services.project_create(
        client=client_a,
        actor=None,
        name="P",
        task_type="categorization",
        params={"categories": ["a", "b"]},
        instructions="v0",
    )
    services.project_update(client=client_a, actor=None, project_id=project.id, changes={"overlap": 2})
    services.project_update(
        client=client_a, actor=None, project_id=project.id, changes={"instructions": "v1"}
    )
    services.project_set_params(
        client=client_a, actor=None, project_id=project.id, params={"allow_multiple": True}, patch=True
    )
    services.project_set_params(
        client=client_a, actor=None, project_id=project.id, params={"categories": ["c", "d"]}
    )
    versions = selectors.project_param_versions(project=project)
    assert [(v.version, v.params, v.instructions) for v in versions] == [
        (0, {"categories": ["a", "b"]}, "v0"),
        (1, {"categories": ["a", "b"]}, "v1"),
        (2, {"categories": ["a", "b"], "allow_multiple": True}, "v1"),
        (3, {"categories": ["c", "d"]}, "v1"),
    ]
    with pytest.raises(ValidationFailed):
        services.project_set_params(
            client=client_a, actor=None, project_id=project.id, params={"categories": "x"}
        )
    assert ProjectParamVersion.objects.filter(project=project).count() == 4


def test_batch_task_counts_cover_every_status(client_a):
    project = ProjectFactory(client=client_a)
    batch = services.batch_create(client=client_a, actor=None, project=project, name="b")
    TaskFactory.create_batch(2, project=project, batch=batch)
    TaskFactory(project=project, batch=batch, status=Task.Status.CANCELED)
    TaskFactory(project=project, batch=batch, is_test=True)
    assert selectors.batch_task_counts(batch=batch) == {
        "pending": 2,
        "completed": 0,
        "canceled": 1,
        "error": 0,
    }
    assert selectors.batch_task_counts(batch=batch, is_test=True) == {
        "pending": 1,
        "completed": 0,
        "canceled": 0,
        "error": 0,
    }
