"""Tenant isolation and test mode through ``/v1/``: another client's objects answer 404, and a
test key and a live key of the same client see separate task worlds."""

from __future__ import annotations

import pytest
from scaleapi.exceptions import ScaleDuplicateResource, ScaleResourceNotFound

from annotation import services as annotation_services
from annotation.models import Batch, Project, Task, TaskAudit
from core.models import Event
from tests.scale.conftest import categorization_project, categorization_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_another_clients_key_gets_404_on_tasks_batches_and_projects(tenant_a, tenant_b, sdk):
    a, b = sdk(tenant_a.live_key), sdk(tenant_b.live_key)
    categorization_project(a)
    a.create_batch("Colours", "a-batch")
    task = categorization_task(a, batch="a-batch", unique_id="a-1", tags=["x"], metadata={"m": 1})
    events = Event.objects.count()

    attempts = [
        lambda: b.get_task(task.id),
        lambda: b.cancel_task(task.id),
        lambda: b.cancel_task(task.id, clear_unique_id=True),
        lambda: b.audit_task(task.id, True),
        lambda: b.update_task_unique_id(task.id, "b-1"),
        lambda: b.clear_task_unique_id(task.id),
        lambda: b.set_task_metadata(task.id, {}),
        lambda: b.set_task_tags(task.id, ["y"]),
        lambda: b.add_task_tags(task.id, ["y"]),
        lambda: b.delete_task_tags(task.id, ["x"]),
        lambda: b.get_batch("a-batch"),
        lambda: b.finalize_batch("a-batch"),
        lambda: b.batch_status("a-batch"),
        lambda: b.set_batch_metadata("a-batch", {}),
        lambda: b.get_project("Colours"),
        lambda: b.update_project("Colours", patch=True, allow_multiple=True),
        lambda: b.get_project_template("Colours"),
        lambda: b.get_tasks_count(project_name="Colours"),
        lambda: list(b.get_tasks(batch_name="a-batch")),
        lambda: list(b.get_batches(project_name="Colours")),
        lambda: b.create_batch("Colours", "b-batch"),
        lambda: categorization_task(b, project="Colours"),
        lambda: categorization_task(b, batch="a-batch"),
    ]
    for attempt in attempts:
        with pytest.raises(ScaleResourceNotFound):
            attempt()

    stored = Task.objects.get(pk=task.id)
    assert (stored.status, stored.unique_id, stored.tags, stored.metadata) == (
        "pending",
        "a-1",
        ["x"],
        {"m": 1},
    )
    assert Batch.objects.get(name="a-batch").status == "staging"
    assert Event.objects.count() == events and TaskAudit.objects.count() == 0
    # names, unique_ids and listings are per client
    assert b.get_projects() == [] and b.tasks(unique_id="a-1").total == 0
    categorization_project(b)
    b.create_batch("Colours", "a-batch")
    assert categorization_task(b, unique_id="a-1").id != task.id
    assert Project.objects.filter(name="Colours").count() == 2


def test_test_keys_and_live_keys_see_separate_tasks(tenant_a, sdk, recorded_wakeups):
    live, test = sdk(tenant_a.live_key), sdk(tenant_a.test_key)
    categorization_project(live)
    live_task = categorization_task(live, unique_id="same")
    test_task = categorization_task(test, unique_id="same")  # a separate world: no duplicate
    assert test.get_task(test_task.id).is_test is True

    with pytest.raises(ScaleResourceNotFound):
        test.get_task(live_task.id)
    with pytest.raises(ScaleResourceNotFound):
        test.cancel_task(live_task.id)
    with pytest.raises(ScaleResourceNotFound):
        test.set_task_tags(live_task.id, ["t"])
    with pytest.raises(ScaleResourceNotFound):
        live.get_task(test_task.id)
    assert [t.id for t in test.get_tasks(project_name="Colours")] == [test_task.id]
    assert [t.id for t in live.get_tasks(project_name="Colours")] == [live_task.id]
    assert [t.id for t in test.tasks(unique_id="same").docs] == [test_task.id]
    with pytest.raises(ScaleDuplicateResource):
        categorization_task(test, unique_id="same")

    # the sandbox simulator completes test tasks; the test key sees the answer
    assert ("simulate", [test_task.id]) in recorded_wakeups
    annotation_services.task_simulate_complete(task_id=test_task.id)
    done = test.get_task(test_task.id)
    assert (done.status, done.response) == ("completed", {"category": "red"})
    assert (
        Task.objects.get(pk=live_task.id).status == "pending" and Task.objects.get(pk=live_task.id).tags == []
    )
