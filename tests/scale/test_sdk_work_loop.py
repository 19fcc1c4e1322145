"""A task created through the SDK is worked by annotators through the native API, and the SDK
sees it completed; its Scale-shaped callbacks (completion, audit) reach a receiver on loopback."""

from __future__ import annotations

import json

import pytest
import requests
import scaleapi

from core import webhooks
from core.models import WebhookDelivery
from tests.clients.receiver import Receiver, Reply
from tests.scale.conftest import CATEGORIES, categorization_project, categorization_task, new_annotator_token

pytestmark = pytest.mark.django_db(transaction=True)


def native(live_server, key: str):
    def call(method: str, path: str, body=None) -> dict:
        response = requests.request(
            method,
            f"{live_server.url}/api/v1/{path}",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert response.status_code in (200, 201), response.text
        return response.json()

    return call


def deliveries_of(recorded_wakeups) -> list[str]:
    return [delivery_id for name, delivery_id in recorded_wakeups if name == "deliver"]


def test_sdk_task_is_worked_through_the_native_api_and_called_back(
    tenant_a, sdk, live_server, recorded_wakeups
):
    # given: a project made with the SDK, three answers per task set through the native API
    scale = sdk(tenant_a.live_key)
    project = categorization_project(scale)
    client_api = native(live_server, tenant_a.live_key)
    native_project = client_api("GET", "projects")["results"][0]
    assert native_project["name"] == project.name
    client_api("PATCH", f"projects/{native_project['id']}", {"overlap": 3})
    scale.create_batch("Colours", "week 48")

    with Receiver(responses=[Reply(status=500)]) as receiver:
        task = categorization_task(
            scale, batch="week 48", callback_url=receiver.url + "scale/callback", metadata={"frame": 1}
        )
        annotators = [
            native(live_server, new_annotator_token(f"annotator{i}@example.test")) for i in range(3)
        ]
        assert annotators[0]("POST", "work/next", {})["assignment"] is None  # staging: not served yet
        scale.finalize_batch("week 48")

        # when: three annotators claim it and answer red, red, blue
        for annotator, answer in zip(annotators, ["red", "red", "blue"], strict=True):
            assignment = annotator("POST", "work/next", {})["assignment"]
            assert assignment["task"]["id"] == task.id
            assert assignment["task"]["params"]["categories"] == CATEGORIES
            annotator(
                "POST",
                f"work/assignments/{assignment['id']}/submit",
                {"claim_version": assignment["claim_version"], "answer": {"category": answer}},
            )

        # then: the SDK sees it completed with the majority answer
        done = scale.get_task(task.id)
        assert (done.status, done.response, done.answers_received) == ("completed", {"category": "red"}, 3)
        assert done.completed_at.endswith("Z")
        assert not hasattr(done, "callback_succeeded")  # not attempted yet
        assert scale.get_tasks_count(project_name="Colours", status=scaleapi.TaskStatus.Completed) == 1
        assert scale.batch_status("week 48")["completed"] == 1

        # and: the completion callback is Scale-shaped, with the client's callback auth key
        [completion] = deliveries_of(recorded_wakeups)
        assert (
            webhooks.delivery_attempt(delivery_id=completion).status == "pending"
        )  # the receiver answered 500
        assert scale.get_task(task.id).callback_succeeded is False
        WebhookDelivery.objects.filter(id=completion).update(
            next_attempt_at=WebhookDelivery.objects.get(id=completion).created_at
        )
        assert webhooks.delivery_attempt(delivery_id=completion).status == "delivered"
        assert scale.get_task(task.id).callback_succeeded is True

        # and: an audit calls back too, carrying the audit
        scale.audit_task(task.id, False, "it is blue")
        audit_delivery = deliveries_of(recorded_wakeups)[-1]
        assert audit_delivery != completion
        assert webhooks.delivery_attempt(delivery_id=audit_delivery).status == "delivered"
        requests_seen = receiver.requests

    assert len(requests_seen) == 3  # the 500, its retry, the audit
    for request in requests_seen:
        assert request.method == "POST"
        assert request.path == "/scale/callback"
        assert request.headers["scale-callback-auth"] == tenant_a.client.callback_auth_key
        assert request.headers["content-type"] == "application/json"
    first, _retry, audit = (json.loads(r.body) for r in requests_seen)
    assert set(first) == {"task", "response", "task_id", "status"}
    assert (first["task_id"], first["status"], first["response"]) == (
        task.id,
        "completed",
        {"category": "red"},
    )
    assert first["task"]["task_id"] == task.id and first["task"]["metadata"] == {"frame": 1}
    assert first["task"]["params"]["attachment"] == "A ripe tomato"
    assert set(audit) == {"task", "response", "task_id", "status"}
    # The rejection sent the task back for rework: pending again, the delivered response kept until then.
    assert (audit["task_id"], audit["status"], audit["response"]) == (task.id, "pending", {"category": "red"})
    [entry] = audit["task"]["audits"]
    assert (entry["audit_result"], entry["comments"], entry["audit_source"]) == (
        "rejected",
        "it is blue",
        "customer",
    )


def test_a_second_audit_is_a_second_callback(tenant_a, sdk, recorded_wakeups):
    from tests.scale.test_sdk_tasks import complete

    scale = sdk(tenant_a.live_key)
    categorization_project(scale)
    with Receiver() as receiver:
        task = categorization_task(scale, callback_url=receiver.url)
        complete(task.id)
        scale.audit_task(task.id, True)
        scale.audit_task(task.id, False, "changed my mind")
        delivered = [webhooks.delivery_attempt(delivery_id=d) for d in deliveries_of(recorded_wakeups)]
        bodies = [json.loads(r.body) for r in receiver.requests]
    assert [d.event_type for d in delivered] == ["task.completed", "task.audited", "task.audited"]
    assert [len(b["task"].get("audits", [])) for b in bodies] == [0, 1, 2]
    assert bodies[2]["task"]["audits"][1]["audit_result"] == "rejected"
