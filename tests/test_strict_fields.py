"""Unknown fields on native write endpoints answer 400 ``unknown_field`` and change nothing."""

from __future__ import annotations

import pytest

from annotation.models import Assignment, ExportJob, Project
from clients import services as client_services
from clients.models import ApiKey
from tests.annotation.factories import AnnotatorFactory, ProjectFactory, TaskFactory
from tests.conftest import api_for_key

pytestmark = pytest.mark.django_db


def _unknown(response, field: str) -> None:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "unknown_field", error
    assert error["message"].startswith(f"{field}: unknown field"), error
    assert field in error["details"]


def test_a_typo_in_project_create_is_refused(api_a):
    body = {"name": "Lights", "task_type": "categorization", "overlapp": 5}
    _unknown(api_a.post("/api/v1/projects", body, format="json"), "overlapp")
    assert not Project.objects.filter(name="Lights").exists()
    body["overlap"] = body.pop("overlapp")
    assert api_a.post("/api/v1/projects", body, format="json").status_code == 201


def test_a_typo_in_project_patch_changes_nothing(api_a, client_a):
    project = ProjectFactory(client=client_a, overlap=1)
    _unknown(
        api_a.patch(f"/api/v1/projects/{project.id}", {"overlap": 3, "priorty": 5}, format="json"), "priorty"
    )
    project.refresh_from_db()
    assert project.overlap == 1 and project.priority == 0


def test_unknown_fields_on_exports_and_api_keys(api_a, client_a):
    project = ProjectFactory(client=client_a)
    response = api_a.post(
        f"/api/v1/projects/{project.id}/exports", {"format": "jsonl", "fromat": "x"}, format="json"
    )
    _unknown(response, "fromat")
    assert not ExportJob.objects.filter(project=project).exists()
    before = ApiKey.objects.filter(client=client_a).count()
    _unknown(api_a.post("/api/v1/api-keys", {"name": "k", "scope": "all"}, format="json"), "scope")
    assert ApiKey.objects.filter(client=client_a).count() == before


def test_an_unknown_field_on_submit_keeps_the_lease(client_a):
    project = ProjectFactory(client=client_a)
    TaskFactory(project=project)
    annotator = AnnotatorFactory()
    worker = api_for_key(client_services.access_token_create(user=annotator.user).key)
    claim = worker.post("/api/v1/work/next", {"project": str(project.id)}, format="json").json()["assignment"]
    response = worker.post(
        f"/api/v1/work/assignments/{claim['id']}/submit",
        {"claim_version": claim["claim_version"], "answer": {"category": "car"}, "final": True},
        format="json",
    )
    _unknown(response, "final")
    assert Assignment.objects.get(id=claim["id"]).status == Assignment.Status.ACTIVE
