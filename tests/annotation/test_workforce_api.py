"""The quality and workforce API end to end over HTTP: apply, take a test, work, review, audit,
project quality, staff vetting and standings; every refused call is a JSON error and changes nothing."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotation.models import Annotator, ProjectWorker, Review, Task
from clients import services as client_services
from tests.annotation.factories import ProjectFactory
from tests.annotation.test_api import assert_error
from tests.clients.factories import UserFactory

pytestmark = pytest.mark.django_db

CATS = {"categories": ["car", "pedestrian", "cyclist"]}


def _user_api(user=None):
    user = user or UserFactory()
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=f"Bearer {client_services.access_token_create(user=user, name='t').key}"
    )
    return api, user


@pytest.fixture
def staff():
    api = APIClient()
    api.force_authenticate(user=UserFactory(is_staff=True))
    return api


def _qualification(staff):
    response = staff.post(
        "/api/v1/staff/qualifications",
        {
            "name": "Vehicles",
            "task_type": "categorization",
            "domain": "autonomous_driving",
            "params": CATS,
            "pass_mark": 0.5,
            "questions": [
                {
                    "params": {"attachment": "q1", "attachment_type": "text"},
                    "gold_answer": {"category": "car"},
                },
                {
                    "params": {"attachment": "q2", "attachment_type": "text"},
                    "gold_answer": {"category": "cyclist"},
                },
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_an_applicant_takes_a_test_then_works_in_a_project_that_requires_it(api_a, staff):
    qualification = _qualification(staff)
    project = api_a.post(
        "/api/v1/projects",
        {
            "name": "Street",
            "task_type": "categorization",
            "params": CATS,
            "required_qualifications": [qualification["id"]],
            "gold_ratio": 0.0,
            "confidence_threshold": 0.5,
            "overlap": 1,
            "max_overlap": 2,
        },
        format="json",
    ).json()
    assert project["required_qualifications"] == [qualification["id"]]
    api_a.post(
        "/api/v1/tasks/bulk",
        {"project": project["id"], "tasks": [{"params": {"attachment": "a", "attachment_type": "text"}}]},
        format="json",
    )
    worker, _ = _user_api()
    assert worker.post("/api/v1/work/apply", {"domains": ["nowhere"]}, format="json").status_code == 400
    applied = worker.post(
        "/api/v1/work/apply",
        {"skills": ["bbox"], "domains": ["autonomous_driving"], "locales": ["en"]},
        format="json",
    )
    assert applied.status_code == 201 and applied.json()["status"] == "applicant"
    assert_error(worker.post("/api/v1/work/next", {}, format="json"), 403, "annotator_not_active")
    listed = worker.get("/api/v1/work/qualifications").json()["results"]
    assert [q["state"] for q in listed] == ["open"]
    attempt = worker.post(f"/api/v1/work/qualifications/{qualification['id']}/attempts").json()
    for category in ("car", "cyclist"):
        question = attempt["next_question"]
        assert "gold_answer" not in question
        attempt = worker.post(
            f"/api/v1/work/qualification-attempts/{attempt['id']}/answers",
            {"question_id": question["id"], "answer": {"category": category}},
            format="json",
        ).json()
    assert (attempt["status"], attempt["score"], attempt["next_question"]) == ("passed", 1.0, None)
    nxt = worker.post("/api/v1/work/next", {}, format="json").json()["assignment"]
    assert nxt is not None
    done = worker.post(
        f"/api/v1/work/assignments/{nxt['id']}/submit",
        {"claim_version": nxt["claim_version"], "answer": {"category": "car"}},
        format="json",
    )
    assert done.json()["task_status"] == "completed"
    profile = worker.get("/api/v1/work/profile").json()
    assert profile["annotator"]["status"] == "active" and profile["projects"][0]["answers"] == 1
    quality = api_a.get(f"/api/v1/projects/{project['id']}/quality").json()
    assert quality["tasks"]["completed"] == 1 and quality["annotators"][0]["annotator"].startswith(
        "annotator-"
    )
    # The client audits and rejects: the task goes back for rework.
    task_id = Task.objects.get().pk
    assert_error(
        api_a.post(f"/api/v1/tasks/{task_id}/audit", {"accepted": "perhaps"}, format="json"),
        400,
        "validation_error",
    )
    audit = api_a.post(
        f"/api/v1/tasks/{task_id}/audit", {"accepted": False, "comments": "wrong"}, format="json"
    )
    assert (
        audit.status_code == 201
        and audit.json()["task_status"] == "pending"
        and audit.json()["rework_round"] == 1
    )


def test_review_over_http_and_refusals(api_a, client_a):
    project = ProjectFactory(client=client_a, params=CATS, review_enabled=True, review_share=1.0)
    api_a.post(
        "/api/v1/tasks/bulk",
        {"project": str(project.pk), "tasks": [{"params": {"attachment": "a"}}]},
        format="json",
    )
    worker, user = _user_api()
    Annotator.objects.create(user=user, status="active")
    nxt = worker.post("/api/v1/work/next", {}, format="json").json()["assignment"]
    worker.post(
        f"/api/v1/work/assignments/{nxt['id']}/submit",
        {"claim_version": nxt["claim_version"], "answer": {"category": "car"}},
        format="json",
    )
    assert_error(worker.post("/api/v1/review/next"), 403, "not_reviewer")
    reviewer, reviewer_user = _user_api()
    Annotator.objects.create(user=reviewer_user, status="active", is_reviewer=True)
    item = reviewer.post("/api/v1/review/next").json()["review"]
    assert item["answers"] == [
        {"number": 1, "answer": {"category": "car"}, "duration_ms": item["answers"][0]["duration_ms"]}
    ]
    assert "annotator" not in str(item["answers"])
    assert_error(
        reviewer.post(
            f"/api/v1/review/{item['id']}/verdict",
            {"verdict": "fix", "corrected_answer": {"category": "x"}},
            format="json",
        ),
        400,
        "invalid_answer",
    )
    assert Review.objects.get().status == "assigned"
    other, other_user = _user_api()
    Annotator.objects.create(user=other_user, status="active", is_reviewer=True)
    assert_error(
        other.post(f"/api/v1/review/{item['id']}/verdict", {"verdict": "accept"}, format="json"),
        404,
        "not_found",
    )
    assert_error(
        api_a.post(f"/api/v1/review/{item['id']}/verdict", {"verdict": "accept"}, format="json"),
        403,
        "not_an_annotator",
    )
    done = reviewer.post(
        f"/api/v1/review/{item['id']}/verdict", {"verdict": "reject", "comment": "blurry"}, format="json"
    )
    assert done.status_code == 200 and done.json()["status"] == "decided"
    assert_error(
        reviewer.post(f"/api/v1/review/{item['id']}/verdict", {"verdict": "accept"}, format="json"),
        409,
        "review_closed",
    )
    assert reviewer.post("/api/v1/review/next").json() == {"review": None}


def test_staff_vet_suspend_restore_and_others_are_refused(staff, api_a, client_a):
    worker, user = _user_api()
    worker.post("/api/v1/work/apply", {}, format="json")
    annotator = Annotator.objects.get(user=user)
    applicants = staff.get("/api/v1/staff/annotators?status=applicant").json()["results"]
    assert [a["id"] for a in applicants] == [str(annotator.pk)]
    assert_error(staff.get("/api/v1/staff/annotators?status=zombie"), 400, "invalid_status")
    assert_error(
        staff.post(f"/api/v1/staff/annotators/{annotator.pk}/status", {"status": "active"}, format="json"),
        400,
        "validation_error",
    )
    vetted = staff.post(
        f"/api/v1/staff/annotators/{annotator.pk}/status",
        {"status": "active", "reason": "interview passed", "is_reviewer": True},
        format="json",
    )
    assert vetted.json()["status"] == "active" and vetted.json()["is_reviewer"] is True
    assert_error(
        staff.post(
            "/api/v1/staff/annotators/nope/status", {"status": "active", "reason": "x"}, format="json"
        ),
        404,
        "not_found",
    )
    # Client keys and annotators cannot use staff routes.
    for api in (api_a, worker):
        assert_error(
            api.post(
                f"/api/v1/staff/annotators/{annotator.pk}/status",
                {"status": "banned", "reason": "x"},
                format="json",
            ),
            403,
            "staff_only",
        )
    annotator.refresh_from_db()
    assert annotator.status == "active"
    project = ProjectFactory(client=client_a, params=CATS)
    removed = staff.post(
        f"/api/v1/staff/projects/{project.pk}/workers/{annotator.pk}/remove",
        {"reason": "low gold"},
        format="json",
    )
    assert removed.json()["status"] == "removed"
    assert staff.get(f"/api/v1/staff/projects/{project.pk}/quality").json()["annotators"][0][
        "annotator"
    ] == str(annotator.pk)
    restored = staff.post(
        f"/api/v1/staff/projects/{project.pk}/workers/{annotator.pk}/restore",
        {"reason": "appeal"},
        format="json",
    )
    assert restored.json()["status"] == "active"
    assert ProjectWorker.objects.get(annotator=annotator).status == "active"
