"""Scale's current categorization through the real SDK: ``create_task`` with ``taxonomies`` (which
Quorum used to refuse with ``params.categories: required``), worked by annotators, completed with
a ``{"taxonomies": {key: [label]}}`` response that the SDK and the callback carry."""

from __future__ import annotations

import json

import pytest
import scaleapi
from scaleapi.exceptions import ScaleInvalidRequest

from core import webhooks
from tests.clients.receiver import Receiver
from tests.scale.conftest import new_annotator_token
from tests.scale.test_sdk_work_loop import deliveries_of, native

pytestmark = pytest.mark.django_db(transaction=True)

RATING = {
    "helpfulness": {
        "type": "category",
        "description": "How helpful is the assistant's reply?",
        "choices": ["helpful", {"choice": "not helpful", "subchoices": ["off-topic", "incorrect"]}],
    },
    "harms": {
        "type": "category",
        "description": "Which harms does the reply show?",
        "choices": ["toxicity", "dangerous advice", "privacy"],
        "allow_multiple": True,
        "condition": {"taxonomy": "helpfulness", "choices": ["not helpful"]},
    },
}


def test_taxonomies_task_round_trip_with_the_sdk(tenant_a, sdk, live_server, recorded_wakeups):
    scale = sdk(tenant_a.live_key)
    scale.create_project("Chat ratings", scaleapi.TaskType.Categorization, params={"instruction": "Rate it."})
    native_project = native(live_server, tenant_a.live_key)("GET", "projects")["results"][0]
    native(live_server, tenant_a.live_key)("PATCH", f"projects/{native_project['id']}", {"overlap": 3})
    with Receiver() as receiver:
        task = scale.create_task(
            scaleapi.TaskType.Categorization,
            project="Chat ratings",
            attachment="User: my tap leaks. Assistant: hit it with a hammer.",
            attachment_type="text",
            taxonomies=RATING,
            callback_url=receiver.url + "cb",
        )
        assert task.params["taxonomies"] == RATING
        answers = [
            {"taxonomies": {"helpfulness": ["incorrect"], "harms": ["dangerous advice"]}},
            {"taxonomies": {"helpfulness": ["incorrect"], "harms": ["dangerous advice", "toxicity"]}},
            {"taxonomies": {"helpfulness": ["helpful"]}},
        ]
        for i, answer in enumerate(answers):
            annotator = native(live_server, new_annotator_token(f"rater{i}@example.test"))
            assignment = annotator("POST", "work/next", {})["assignment"]
            assert assignment["task"]["params"]["taxonomies"] == RATING
            annotator(
                "POST",
                f"work/assignments/{assignment['id']}/submit",
                {"claim_version": assignment["claim_version"], "answer": answer},
            )
        done = scale.get_task(task.id)
        expected = {"taxonomies": {"helpfulness": ["incorrect"], "harms": ["dangerous advice"]}}
        assert (done.status, done.response) == ("completed", expected)
        [delivery] = deliveries_of(recorded_wakeups)
        assert webhooks.delivery_attempt(delivery_id=delivery).status == "delivered"
        [request] = receiver.requests
    body = json.loads(request.body)
    assert (body["status"], body["response"]) == ("completed", expected)


def test_a_bad_taxonomy_is_a_scale_400_naming_the_field(tenant_a, sdk):
    scale = sdk(tenant_a.live_key)
    scale.create_project("Chat ratings", scaleapi.TaskType.Categorization)
    bad = {
        **RATING,
        "harms": {**RATING["harms"], "condition": {"taxonomy": "helpfulness", "choices": ["meh"]}},
    }
    with pytest.raises(ScaleInvalidRequest, match=r"params\.taxonomies\.harms\.condition\.choices\[0\]"):
        scale.create_task(
            scaleapi.TaskType.Categorization, project="Chat ratings", attachment="x", taxonomies=bad
        )
    # the legacy form still works in the same project
    legacy = scale.create_task(
        scaleapi.TaskType.Categorization, project="Chat ratings", attachment="x", categories=["a", "b"]
    )
    assert legacy.params["categories"] == ["a", "b"]
