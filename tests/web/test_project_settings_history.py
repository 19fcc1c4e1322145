"""The settings page's labels/params and quality settings, and its history: who changed what and
when, and every version of the labels and instructions. New tasks take new labels, tasks already
created keep theirs; bad input is explained on the form and changes nothing."""

from __future__ import annotations

import json

import pytest

from annotation import services
from annotation.models import Project, ProjectParamVersion, Task
from core.models import Event
from tests.web.factories import MemberFactory
from tests.web.test_project_settings import bulk, form, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(client_a):
    return services.project_create(
        client=client_a,
        actor=None,
        name="Vehicles",
        task_type="categorization",
        params={"categories": ["car", "bus"]},
        instructions="Pick the vehicle.",
        price_per_task=40,
        pay_per_answer=10,
    )


@pytest.fixture
def member(pages, client_a):
    membership = MemberFactory(client=client_a, role="member", user__email="mia@example.test")
    return pages(membership.user)


def url(project) -> str:
    return f"/portal/projects/{project.id}/settings/"


def test_labels_and_quality_settings_are_saved_and_new_tasks_take_the_labels(member, client_a, project):
    old = bulk(client_a, project, "old")
    response = member.post(
        url(project),
        form(project, params=json.dumps({"categories": ["car", "bus", "truck"]}), gold_ratio="0.2",
             review_enabled="on", review_share="0.5", consensus_method="dawid_skene", show_hypothesis=""),
    )  # fmt: skip
    assert response.status_code == 302, text(response)[:3000]
    project.refresh_from_db()
    assert project.params == {"categories": ["car", "bus", "truck"]}
    assert (project.gold_ratio, project.review_enabled, project.review_share) == (0.2, True, 0.5)
    assert (project.consensus_method, project.show_hypothesis) == ("dawid_skene", False)
    assert "labels and params, price and pay from now on" in text(member.get(response["Location"]))
    new = bulk(client_a, project, "new")
    assert Task.objects.get(pk=old.pk).params["categories"] == ["car", "bus"]
    assert new.params["categories"] == ["car", "bus", "truck"]


def test_the_page_shows_who_changed_what_and_when_and_every_version(member, project):
    member.post(url(project), form(project, params=json.dumps({"categories": ["car", "van"]})))
    project.refresh_from_db()
    member.post(url(project), form(project, instructions="Pick the largest vehicle.", gold_ratio="0.1"))
    page = member.get(url(project))
    history = page.context["history"]
    assert [(c["who"], c["kind"]) for c in history["changes"]] == [
        ("mia@example.test", "updated"),
        ("mia@example.test", "updated"),
        ("Quorum", "created"),
    ]
    newest = {f["name"]: (f["before"], f["after"]) for f in history["changes"][0]["fields"]}
    assert newest == {
        "instructions": ("Pick the vehicle.", "Pick the largest vehicle."),
        "gold ratio": ("0.0", "0.1"),
    }
    labels = history["changes"][1]["fields"]
    assert labels == [
        {
            "name": "params",
            "before": '{"categories": ["car", "bus"]}',
            "after": '{"categories": ["car", "van"]}',
        }
    ]
    assert [(v["version"], json.loads(v["params"]), v["instructions"]) for v in history["versions"]] == [
        (2, {"categories": ["car", "van"]}, "Pick the largest vehicle."),
        (1, {"categories": ["car", "van"]}, "Pick the vehicle."),
        (0, {"categories": ["car", "bus"]}, "Pick the vehicle."),
    ]
    body = text(page)
    assert "mia@example.test" in body and "Version 2" in body and "Version 0" in body
    assert "<strong>gold ratio</strong>: 0.0 → 0.1" in body


def test_another_clients_events_never_show_in_the_history(member, project, client_b):
    Event.objects.create(
        actor="user:x", entity_type="project", entity_id=project.id, kind="project.updated",
        after={"name": "leak"}, client=client_b,
    )  # fmt: skip
    assert "leak" not in text(member.get(url(project)))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"params": "{categories: [car]"},
            "Not valid JSON: expecting property name enclosed in double quotes",
        ),
        ({"params": '["car", "bus"]'}, "Must be a JSON object"),
        ({"params": json.dumps({"categories": "car"})}, "Params categories: “car” is not of type “array”"),
        ({"gold_ratio": "2"}, "Ensure this value is less than or equal to 1."),
        ({"review_share": "-0.5"}, "Ensure this value is greater than or equal to 0."),
        ({"gold_min_answers": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"consensus_method": "coin_toss"}, "Select a valid choice."),
        ({"serving_order": ""}, "This field is required."),
    ],
)
def test_bad_labels_or_quality_settings_are_explained_and_change_nothing(member, project, changes, message):
    before = Project.objects.filter(pk=project.pk).values().get()
    events = Event.objects.count()
    response = member.post(url(project), form(project, **changes, instructions="Changed as well."))
    body = text(response)
    assert response.status_code == 400 and message in body.replace("&quot;", '"')
    assert 'role="alert"' in body and "Traceback" not in body
    assert any(message in error for errors in response.context["form"].errors.values() for error in errors)
    if "params" in changes:
        assert message in response.context["form"].errors["params"][0]
    assert Project.objects.filter(pk=project.pk).values().get() == before
    assert Event.objects.count() == events
    assert ProjectParamVersion.objects.filter(project=project).count() == 1
