"""The portal's project settings page: members and up change instructions, answers per task,
priority, price, pay and budget; tasks created afterwards take them, tasks already created keep
theirs (instructions, max overlap, priority and budget are read live); a refused change is explained
on the form and changes nothing."""

from __future__ import annotations

import json

import pytest

from annotation import services
from annotation.models import Project, Task
from annotation.services.projects import QUALITY_FIELDS
from billing.models import ProjectBudget
from core.models import Event
from tests.annotation.factories import ProjectFactory, TaskFactory

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


def form(project, **changes) -> dict:
    data = {
        "instructions": project.instructions,
        "overlap": project.overlap,
        "max_overlap": project.max_overlap,
        "priority": project.priority,
        "deadline": "" if project.deadline is None else f"{project.deadline:%Y-%m-%d %H:%M:%S}",
        "price_per_task": "" if project.price_per_task is None else f"{project.price_per_task / 100:.2f}",
        "pay_per_answer": "" if project.pay_per_answer is None else f"{project.pay_per_answer / 100:.2f}",
        "budget": "",
        "params": json.dumps(project.params),
        **{
            field: getattr(project, field)
            for field in QUALITY_FIELDS
            if not isinstance(getattr(project, field), bool)
        },
        **{field: "on" for field in ("review_enabled", "show_hypothesis") if getattr(project, field)},
    }
    data.update(changes)
    return data


def bulk(client, project, uid):
    (result,) = services.task_bulk_create(
        client=client, actor=None, project=project, items=[{"unique_id": uid, "params": {"attachment": "x"}}]
    )
    return Task.objects.get(pk=result.task.pk)


def test_settings_apply_to_new_tasks_and_the_page_says_so(member_pages, client_a):
    project = ProjectFactory(client=client_a, overlap=1, max_overlap=1, price_per_task=40, pay_per_answer=10)
    old = bulk(client_a, project, "old")
    member = member_pages(client_a, "member")
    page = text(member.get(f"/portal/projects/{project.id}/settings/"))
    assert "answers per task, labels and params, price and pay apply to tasks created from now on" in page
    response = member.post(
        f"/portal/projects/{project.id}/settings/",
        form(project, overlap="2", max_overlap="3", price_per_task="0.60", priority="5", budget="25.00",
             instructions="Box every car."),
    )  # fmt: skip
    assert response.status_code == 302, text(response)[:3000]
    project.refresh_from_db()
    assert (project.overlap, project.max_overlap, project.price_per_task, project.priority) == (2, 3, 60, 5)
    assert project.instructions == "Box every car."
    assert ProjectBudget.objects.get(project_id=project.id).limit == 2500
    assert Event.objects.filter(entity_id=project.id, kind="project.updated").count() == 1
    done = text(member.get(response["Location"]))
    assert "New tasks take answers per task, labels and params, price and pay from now on" in done
    new = bulk(client_a, project, "new")
    old.refresh_from_db()
    assert (old.overlap, old.price) == (1, 40)
    assert (new.overlap, new.price) == (2, 60)


def test_a_price_below_the_pay_is_refused_on_the_form_and_nothing_changes(member_pages, client_a):
    project = ProjectFactory(client=client_a, overlap=1, max_overlap=1, price_per_task=40, pay_per_answer=10)
    response = member_pages(client_a, "member").post(
        f"/portal/projects/{project.id}/settings/", form(project, overlap="5", max_overlap="5", budget="9.00")
    )
    assert response.status_code == 400
    body = text(response)
    assert "The price must cover the annotators&#x27; pay" in body and "price_per_task:" not in body
    project.refresh_from_db()
    assert (project.overlap, project.max_overlap) == (1, 1)
    assert not ProjectBudget.objects.filter(project_id=project.id, limit=900).exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"overlap": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"priority": "high"}, "Enter a whole number."),
        ({"price_per_task": "-1"}, "Ensure this value is greater than or equal to 0."),
    ],
)
def test_bad_input_is_explained_and_changes_nothing(member_pages, client_a, changes, message):
    project = ProjectFactory(client=client_a, price_per_task=40, pay_per_answer=10)
    before = Project.objects.filter(pk=project.pk).values().get()
    response = member_pages(client_a, "member").post(
        f"/portal/projects/{project.id}/settings/", form(project, **changes)
    )
    assert response.status_code == 400 and message in text(response)
    assert Project.objects.filter(pk=project.pk).values().get() == before


def test_a_viewer_cannot_open_settings_and_another_client_gets_404(member_pages, client_a, client_b):
    project = ProjectFactory(client=client_a)
    assert member_pages(client_a, "viewer").get(f"/portal/projects/{project.id}/settings/").status_code == 403
    assert member_pages(client_b, "owner").get(f"/portal/projects/{project.id}/settings/").status_code == 404


def test_saving_unchanged_settings_changes_nothing(member_pages, client_a):
    project = ProjectFactory(client=client_a, price_per_task=40, pay_per_answer=10)
    response = member_pages(client_a, "member").post(
        f"/portal/projects/{project.id}/settings/", form(project)
    )
    assert response.status_code == 302
    assert not Event.objects.filter(entity_id=project.id, kind="project.updated").exists()


def test_a_deadline_is_set_shown_and_a_past_one_refused(member_pages, staff_pages, client_a):
    project = ProjectFactory(client=client_a, price_per_task=40, pay_per_answer=10)
    TaskFactory(project=project)
    member = member_pages(client_a, "member")
    url = f"/portal/projects/{project.id}/settings/"
    past = member.post(url, form(project, deadline="2020-01-01 00:00"))
    assert past.status_code == 400 and "Must be in the future" in text(past)
    bad = member.post(url, form(project, deadline="soon"))
    assert bad.status_code == 400 and "Enter a date and time such as 2027-01-31 18:00." in text(bad)
    project.refresh_from_db()
    assert project.deadline is None
    assert member.post(url, form(project, deadline="2099-01-31 18:00")).status_code == 302
    project.refresh_from_db()
    assert project.deadline.isoformat() == "2099-01-31T18:00:00+00:00"
    assert "due 2099-01-31 18:00 UTC" in text(member.get(f"/portal/projects/{project.id}/"))
    assert "2099-01-31 18:00" in text(staff_pages.get("/ops/"))
    # Saving again leaves the deadline (and everything else) as it is.
    again = form(project, deadline="2099-01-31 18:00:00")
    assert member.post(url, again).status_code == 302
    assert Event.objects.filter(entity_id=project.id, kind="project.updated").count() == 1


def test_the_api_sets_and_clears_a_deadline_and_refuses_bad_ones(api_a, client_a):
    from tests.annotation.test_api import assert_error

    project = ProjectFactory(client=client_a, price_per_task=40, pay_per_answer=10)
    url = f"/api/v1/projects/{project.id}"
    assert_error(
        api_a.patch(url, {"deadline": "2020-01-01T00:00:00Z"}, format="json"), 400, "invalid_deadline"
    )
    assert_error(api_a.patch(url, {"deadline": "tomorrow"}, format="json"), 400, "validation_error")
    done = api_a.patch(url, {"deadline": "2099-01-31T18:00:00Z"}, format="json")
    assert done.status_code == 200 and done.json()["deadline"].startswith("2099-01-31T18:00:00")
    cleared = api_a.patch(url, {"deadline": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["deadline"] is None
