"""Size caps: a 400 ``too_large`` naming the field, its size and the cap, and nothing stored."""

from __future__ import annotations

import pytest

from annotation.models import Batch, Project, Task
from clients import services as client_services
from tests.annotation.factories import AnnotatorFactory, ProjectFactory, TaskFactory
from tests.conftest import api_for_key

pytestmark = pytest.mark.django_db

ATTACHMENT = "https://images.example.com/a.jpg"


def _error(response, field_fragment: str, setting: str) -> dict:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "too_large"
    assert field_fragment in error["message"] and setting in error["message"], error["message"]
    assert error["details"]["setting"] == setting
    return error


def test_project_params_over_the_cap_are_refused_and_nothing_is_created(api_a, settings):
    settings.QUORUM_MAX_PROJECT_PARAMS_BYTES = 10_000
    body = {
        "name": "Big",
        "task_type": "categorization",
        "params": {"categories": ["a", "b"], "notes": "x" * 10_000},
    }
    error = _error(
        api_a.post("/api/v1/projects", body, format="json"), "params:", "QUORUM_MAX_PROJECT_PARAMS_BYTES"
    )
    assert error["details"]["max_bytes"] == 10_000 and error["details"]["bytes"] > 10_000
    assert error["details"]["field"] == "params"
    assert not Project.objects.filter(name="Big").exists()


def test_project_patch_instructions_over_the_cap_change_nothing(api_a, client_a, settings):
    settings.QUORUM_MAX_TEXT_CHARS = 1000
    project = ProjectFactory(client=client_a, instructions="short")
    response = api_a.patch(f"/api/v1/projects/{project.id}", {"instructions": "y" * 1001}, format="json")
    _error(response, "instructions:", "QUORUM_MAX_TEXT_CHARS")
    project.refresh_from_db()
    assert project.instructions == "short"


@pytest.mark.parametrize(
    ("field", "value", "setting"),
    [
        ("params", {"attachment": ATTACHMENT, "blob": "z" * 5000}, "QUORUM_MAX_TASK_PARAMS_BYTES"),
        ("metadata", {"blob": "z" * 5000}, "QUORUM_MAX_METADATA_BYTES"),
        ("instruction", "z" * 5000, "QUORUM_MAX_TEXT_CHARS"),
    ],
)
def test_a_bulk_item_over_a_cap_names_the_item_and_the_cap(api_a, client_a, settings, field, value, setting):
    setattr(settings, setting, 4000)
    project = ProjectFactory(client=client_a)
    ok = {"params": {"attachment": ATTACHMENT}}
    bad = {**ok, field: value}
    response = api_a.post(
        "/api/v1/tasks/bulk", {"project": str(project.id), "tasks": [ok, bad]}, format="json"
    )
    error = _error(response, f"tasks[1].{field}:", setting)
    assert error["details"]["index"] == 1 and error["details"]["field"] == field
    assert not Task.objects.filter(project=project).exists()


def test_too_many_tags_in_a_bulk_item(api_a, client_a, settings):
    project = ProjectFactory(client=client_a)
    item = {
        "params": {"attachment": ATTACHMENT},
        "tags": [f"t{i}" for i in range(settings.QUORUM_MAX_TAGS + 1)],
    }
    response = api_a.post("/api/v1/tasks/bulk", {"project": str(project.id), "tasks": [item]}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "too_large"
    assert "QUORUM_MAX_TAGS" in response.json()["error"]["message"]
    assert not Task.objects.filter(project=project).exists()


def test_project_params_copied_into_every_task_are_bounded_per_request(api_a, client_a, settings):
    """The amplification of the issue: small requests, large project params copied per task."""
    settings.QUORUM_MAX_BULK_PARAMS_BYTES = 100_000
    project = ProjectFactory(client=client_a, params={"categories": ["a", "b"], "notes": "n" * 9_000})
    items = [{"params": {"attachment": ATTACHMENT}, "unique_id": f"u{i}"} for i in range(20)]
    request_bytes = len(str(items))
    response = api_a.post("/api/v1/tasks/bulk", {"project": str(project.id), "tasks": items}, format="json")
    error = _error(response, "tasks:", "QUORUM_MAX_BULK_PARAMS_BYTES")
    assert request_bytes < 2_000  # a small request…
    assert error["details"]["max_bytes"] == 100_000  # …that would have stored ~180 kB of params
    assert not Task.objects.filter(project=project).exists()
    # Fewer tasks per request fit under the cap.
    response = api_a.post(
        "/api/v1/tasks/bulk", {"project": str(project.id), "tasks": items[:5]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Task.objects.filter(project=project).count() == 5


def test_batch_metadata_over_the_cap(api_a, client_a, settings):
    settings.QUORUM_MAX_METADATA_BYTES = 1000
    project = ProjectFactory(client=client_a)
    body = {"project": str(project.id), "name": "b1", "metadata": {"x": "m" * 1000}}
    _error(api_a.post("/api/v1/batches", body, format="json"), "metadata:", "QUORUM_MAX_METADATA_BYTES")
    assert not Batch.objects.filter(project=project).exists()


def test_an_answer_over_the_cap_is_refused_and_the_lease_stays(client_a, settings):
    settings.QUORUM_MAX_ANSWER_BYTES = 2000
    project = ProjectFactory(client=client_a, task_type="textcollection", params={
        "fields": [{"field_id": "note", "type": "text", "title": "Note"}]})  # fmt: skip
    task = TaskFactory(project=project, params={**project.params, "attachment": ATTACHMENT})
    annotator = AnnotatorFactory()
    worker = api_for_key(client_services.access_token_create(user=annotator.user).key)
    claim = worker.post("/api/v1/work/next", {"project": str(project.id)}, format="json").json()["assignment"]
    assert claim is not None
    response = worker.post(
        f"/api/v1/work/assignments/{claim['id']}/submit",
        {"claim_version": claim["claim_version"], "answer": {"annotations": {"note": "w" * 3000}}},
        format="json",
    )
    _error(response, "answer:", "QUORUM_MAX_ANSWER_BYTES")
    task.refresh_from_db()
    assert task.answers_received == 0


@pytest.mark.parametrize("field", ["params", "metadata"])
def test_an_empty_list_is_not_taken_for_an_object(api_a, client_a, field):
    project = ProjectFactory(client=client_a)
    item = {"params": {"attachment": ATTACHMENT}, field: []}
    response = api_a.post("/api/v1/tasks/bulk", {"project": str(project.id), "tasks": [item]}, format="json")
    assert (
        response.status_code == 400
        and response.json()["error"]["message"] == f"tasks[0].{field}: must be an object"
    )
    assert not Task.objects.filter(project=project).exists()
