"""The SDK's v2 client (``client.v2``, the GenAI API) against ``/v2/`` on a live server.

The only change a client makes is the v2 host: ``client.v2.api_client.configuration.host`` (the
SDK does not derive it from ``api_instance_url``; left alone it sends the key to Scale)."""

from __future__ import annotations

import pytest
import scaleapi
from scaleapi.api_client.v2 import (
    BatchOperationRequest,
    CreateBatchRequest,
    CreateChatTaskRequest,
    ExpandableEnumTask,
    SetBatchMetadataRequest,
    SetTaskMetadataRequest,
    TaskStatus,
)
from scaleapi.api_client.v2.exceptions import ApiException

from annotation.models import Assignment, Batch, Task
from tests.scale.conftest import new_annotator_token
from tests.scale.test_sdk_work_loop import native

pytestmark = pytest.mark.django_db(transaction=True)

PROMPT = "How do I reset my router?"
RESPONSES = [{"id": "model-a", "text": "Hold reset for 10 s."}, {"id": "model-b", "text": "Buy a new one."}]


@pytest.fixture
def clients(base_url):
    """``clients(key)``: (the SDK's ScaleClient, its v2 client pointed at this server)."""

    def make(key: str):
        scale = scaleapi.ScaleClient(key, api_instance_url=base_url)
        assert scale.v2.api_client.configuration.host == "https://api.scale.com"  # the SDK's default
        scale.v2.api_client.configuration.host = base_url.removesuffix("/v1")
        return scale, scale.v2

    return make


def _answer(live_server, email: str, answer: dict) -> str:
    annotator = native(live_server, new_annotator_token(email))
    assignment = annotator("POST", "work/next", {})["assignment"]
    annotator(
        "POST",
        f"work/assignments/{assignment['id']}/submit",
        {"claim_version": assignment["claim_version"], "answer": answer},
    )
    return assignment["task"]["id"]


def test_chat_tasks_batches_projects_and_deliveries_through_client_v2(tenant_a, clients, live_server):
    scale, v2 = clients(tenant_a.live_key)
    scale.create_project("Router help", scaleapi.TaskType.Comparison, params={"mode": "pairwise"})

    # projects
    [project] = v2.get_projects().projects
    assert (project.name, project.types) == ("Router help", ["comparison"])
    assert (
        v2.get_project(project_name="Router help").id
        == project.id
        == v2.get_project(project_id=project.id).id
    )

    # a staging batch, created and found by name or id, metadata merged
    batch = v2.create_batch(
        CreateBatchRequest(
            name="week 1", project_name="Router help", staging_batch=True, metadata={"a": {"x": 1}}
        )
    )
    assert (batch.status, batch.project.actual_instance) == ("staging", project.id)
    v2.set_batch_metadata(SetBatchMetadataRequest(batch_name="week 1", metadata={"a": {"y": 2}}, merge=True))
    assert v2.get_batch(batch_id=batch.id).metadata == {"a": {"x": 1, "y": 2}}

    # chat tasks: template variables become the comparison's prompt and responses
    created = [
        v2.create_chat_task(
            CreateChatTaskRequest(
                project_name="Router help",
                batch_name="week 1",
                template_variables={"prompt": PROMPT, "responses": RESPONSES},
                metadata={"conversation": i},
            )
        )
        for i in range(3)
    ]
    assert all(t.status == TaskStatus.PENDING and t.threads == [] for t in created)
    assert created[0].batch.actual_instance == batch.id
    v2.finalize_batch(BatchOperationRequest(batch_name="week 1"))

    # two tasks are answered; the third stays pending
    answered = [
        _answer(
            live_server,
            f"rater{i}@example.test",
            {"choice": "model-a", "strength": 6, "justification": "works"},
        )
        for i in range(2)
    ]
    done = v2.get_task(task_id=answered[0], expand=[ExpandableEnumTask.PROJECT])
    assert done.status == TaskStatus.COMPLETED and done.completed_at is not None
    assert done.project.actual_instance.name == "Router help"
    [thread] = done.threads
    [turn] = thread.turns
    assert [(m.role, m.source_id, m.content.text) for m in turn.messages] == [
        ("user", "prompt", PROMPT),
        ("assistant", "model-a", RESPONSES[0]["text"]),
        ("assistant", "model-b", RESPONSES[1]["text"]),
    ]
    found = {a.actual_instance.key: a.actual_instance for a in turn.annotations}
    assert found["selected_response_id"].value == "model-a"
    assert found["selected_response_id"].possible_values == ["model-a", "model-b"]
    assert found["likert_value"].value == 6
    assert found["justification-0"].value == "works"

    # listing pages with next_token, and v2_get_tasks follows it to the end
    first = v2.get_tasks(project_name="Router help", limit=2)
    assert len(first.tasks) == 2 and first.next_token
    rest = v2.get_tasks(project_name="Router help", limit=2, next_token=first.next_token)
    assert len(rest.tasks) == 1 and rest.next_token is None
    assert {t.task_id for t in scale.v2_get_tasks(project_name="Router help", limit=1)} == {
        t.task_id for t in created
    }
    completed = v2.get_tasks(batch_name="week 1", status=TaskStatus.COMPLETED)
    assert sorted(t.task_id for t in completed.tasks) == sorted(answered)

    # task metadata: replace, or merge
    v2.set_task_metadata(SetTaskMetadataRequest(task_id=created[2].task_id, metadata={"k": {"a": 1}}))
    merged = v2.set_task_metadata(
        SetTaskMetadataRequest(task_id=created[2].task_id, metadata={"k": {"b": 2}}, merge=True)
    )
    assert merged.metadata == {"k": {"a": 1, "b": 2}}

    # deliveries: today's completed tasks of the project
    [delivery] = v2.get_deliveries(project_name="Router help").deliveries
    assert delivery.task_count == 2 and delivery.project.actual_instance == project.id
    delivered = v2.get_delivery(delivery_id=delivery.id)
    assert sorted(t.task_id for t in delivered.tasks) == sorted(answered)
    assert delivered.delivery.actual_instance.id == delivery.id
    docs = v2.get_delivery_tasks(delivery_id=delivery.id).docs
    assert {d.task_id for d in docs} == set(answered)
    assert all(d.delivery_id == delivery.id and d.response["choice"] == "model-a" for d in docs)
    by_name = v2.get_delivery(delivery_name=delivery.name, project_name="Router help")
    assert len(by_name.tasks) == 2

    # pause stops serving the batch's pending task; resume serves it again; cancel cancels it
    paused = v2.pause_batch(BatchOperationRequest(batch_name="week 1"))
    assert paused.batch.status == "paused"
    assert (
        native(live_server, new_annotator_token("late@example.test"))("POST", "work/next", {})["assignment"]
        is None
    )
    assert v2.resume_batch(BatchOperationRequest(batch_id=batch.id)).batch.status == "in_progress"
    holder = native(live_server, new_annotator_token("holder@example.test"))
    lease = holder("POST", "work/next", {})["assignment"]
    assert lease["task"]["id"] == created[2].task_id
    cancelled = v2.cancel_batch(BatchOperationRequest(batch_name="week 1"))
    assert cancelled.batch.status == "cancelled" and "1 pending task" in cancelled.message
    assert Task.objects.get(pk=created[2].task_id).status == Task.Status.CANCELED
    assert Assignment.objects.get(pk=lease["id"]).status == Assignment.Status.RELEASED
    assert Task.objects.filter(pk__in=answered, status="completed").count() == 2  # completed work stays
    listed = v2.get_batches(project_name="Router help", status="cancelled")
    assert [b.name for b in listed.batches] == ["week 1"]
    assert Batch.objects.get(pk=batch.id).status == "cancelled"


def test_text_collection_chat_task_and_errors(tenant_a, clients, live_server):
    scale, v2 = clients(tenant_a.live_key)
    fields = [
        {"field_id": "rating", "type": "rating", "title": "Quality", "scale": 5},
        {"field_id": "topic", "type": "category", "title": "Topic", "choices": ["tech", "other"]},
    ]
    scale.create_project("Ratings", scaleapi.TaskType.TextCollection, params={"fields": fields})
    task = v2.create_chat_task(
        CreateChatTaskRequest(
            project_name="Ratings",
            template_variables={"attachments": [{"type": "text", "content": "User: hi. Assistant: hello!"}]},
        )
    )
    _answer(live_server, "r@example.test", {"annotations": {"rating": 4, "topic": ["tech"]}})
    [thread] = v2.get_task(task_id=task.task_id).threads
    [turn] = thread.turns
    assert [(m.role, m.content.text) for m in turn.messages] == [("user", "User: hi. Assistant: hello!")]
    found = {
        a.actual_instance.key: (a.actual_instance.type, a.actual_instance.value) for a in turn.annotations
    }
    assert found == {"rating": ("integer", 4), "topic": ("category", "tech")}

    scale.create_project("Colours", scaleapi.TaskType.Categorization, params={"categories": ["a", "b"]})
    with pytest.raises(ApiException) as err:
        v2.create_chat_task(
            CreateChatTaskRequest(project_name="Colours", template_variables={"attachment": "x"})
        )
    assert err.value.status == 400 and "chat tasks run on comparison or textcollection" in err.value.body
    with pytest.raises(ApiException) as err:
        v2.create_chat_task(
            CreateChatTaskRequest(project_name="Ratings", template_variables={"fields": "nope"})
        )
    assert err.value.status == 400 and "template_variables.fields" in err.value.body
    with pytest.raises(ApiException) as err:
        v2.get_task(task_id="00000000-0000-0000-0000-000000000000")
    assert err.value.status == 404 and '"status_code":404' in err.value.body.replace(" ", "")
    with pytest.raises(ApiException) as err:
        v2.get_tasks(next_token="not-a-token")
    assert err.value.status == 400
    with pytest.raises(ApiException) as err:
        v2.pause_batch(BatchOperationRequest(batch_name="no such batch"))
    assert err.value.status == 404


def test_v2_is_tenant_isolated_and_needs_a_key(tenant_a, tenant_b, clients, live_server):
    scale_a, v2_a = clients(tenant_a.live_key)
    _, v2_b = clients(tenant_b.live_key)
    scale_a.create_project("Router help", scaleapi.TaskType.Comparison, params={"mode": "pairwise"})
    task = v2_a.create_chat_task(
        CreateChatTaskRequest(
            project_name="Router help", template_variables={"prompt": PROMPT, "responses": RESPONSES}
        )
    )
    with pytest.raises(ApiException) as err:
        v2_b.get_task(task_id=task.task_id)
    assert err.value.status == 404
    assert v2_b.get_projects().projects == []
    assert v2_b.get_tasks().tasks == []
    with pytest.raises(ApiException) as err:
        v2_b.get_project(project_id=v2_a.get_projects().projects[0].id)
    assert err.value.status == 404
    _, anonymous = clients("qk_live_not_a_key")
    with pytest.raises(ApiException) as err:
        anonymous.get_projects()
    assert err.value.status == 401
