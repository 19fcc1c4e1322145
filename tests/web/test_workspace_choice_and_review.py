"""Issue 15 through the pages and the annotator API: the available work (same eligibility as the
claim), a chosen project honoured by ``next``, the waiting-review count, the fix made with the tool
(JSON endpoint) and the review history shown to clients under pseudonyms."""

from __future__ import annotations

import json

import pytest

from annotation import services
from annotation.models import Assignment, Project, Review, Task
from annotation.quality_selectors import pseudonym
from clients import services as client_services
from tests.annotation.factories import AnnotatorFactory, BoxProjectFactory, ProjectFactory, TaskFactory
from tests.conftest import api_for_key
from tests.web.factories import MemberFactory
from tests.web.test_workspace_review_pages import BOX, held_review, reviewer, take_review  # noqa: F401

pytestmark = pytest.mark.django_db


def token_api(annotator):
    token = client_services.access_token_create(user=annotator.user, name="test")
    return api_for_key(token.key)


def text_task(project, n=1, pay=10):
    return [
        TaskFactory(
            project=project,
            params={**project.params, "attachment": f"item {i}", "attachment_type": "text"},
            pay=pay,
        )
        for i in range(n)
    ]


@pytest.fixture
def qualification():
    return services.qualification_create(
        client=None,
        actor="staff:test",
        name="Traffic lights 101",
        task_type="categorization",
        params={"categories": ["red", "green"]},
        pass_mark=1.0,
        questions=[
            {
                "params": {"attachment": "a red light", "attachment_type": "text"},
                "gold_answer": {"category": "red"},
            }
        ],
    )


def test_available_work_lists_what_a_claim_may_serve_in_serving_order(client, qualification):
    annotator = AnnotatorFactory()
    urgent = ProjectFactory(priority=10, pay_per_answer=12)
    fresh = ProjectFactory(priority=0, pay_per_answer=30)  # new, at default priority
    gated = ProjectFactory(priority=5)
    gated.required_qualifications.add(qualification)
    removed = ProjectFactory(priority=5)
    paused = ProjectFactory(priority=5, status=Project.Status.PAUSED)
    text_task(urgent, 3, pay=12)
    text_task(fresh, 2, pay=30)
    for project in (gated, removed, paused):
        text_task(project, 1)
    services.worker_remove(
        project_id=removed.pk, annotator_id=annotator.pk, reason="spam", actor="staff:test"
    )
    answered = urgent.tasks.first()
    Assignment.objects.create(
        task=answered, annotator=annotator, project=urgent, claim_version=1, leased_until=answered.created_at
    )

    rows = token_api(annotator).get("/api/v1/work/projects").json()["results"]

    assert [r["project"] for r in rows] == [str(urgent.pk), str(fresh.pk)]
    first, second = rows
    assert (first["rank"], first["tasks_waiting"], first["pay_per_answer"], first["currency"]) == (
        1,
        2,
        12,
        "USD",
    )
    assert (second["rank"], second["tasks_waiting"], second["pay_per_answer"]) == (2, 2, 30)
    assert first["standing"] == {"status": "new", "answers": 0, "gold_accuracy": None, "agreement": None}
    assert first["labels"] == urgent.params["categories"] and first["task_type"] == "categorization"
    assert "name" not in first and urgent.name not in json.dumps(rows)  # no project or client names

    # Holding the qualification opens the gated project, with its requirement named.
    services.qualification_grant(
        annotator_id=annotator.pk, qualification_id=qualification.pk, reason="test", actor="staff:test"
    )
    rows = token_api(annotator).get("/api/v1/work/projects").json()["results"]
    assert [r["project"] for r in rows] == [str(urgent.pk), str(gated.pk), str(fresh.pk)]
    assert rows[1]["required_qualifications"] == [{"id": str(qualification.pk), "name": "Traffic lights 101"}]


def test_a_chosen_project_is_served_until_the_annotator_lets_quorum_choose(client):
    annotator = AnnotatorFactory()
    urgent = ProjectFactory(priority=10)
    fresh = ProjectFactory(priority=0)
    text_task(urgent, 2)
    text_task(fresh, 2)
    client.force_login(annotator.user)

    page = client.get("/work/").content.decode()
    assert f'value="{fresh.pk}"' in page and "Available work" in page
    response = client.post("/work/next", {"project": str(fresh.pk)})
    first = Assignment.objects.get(pk=response.url.split("/")[3])
    assert first.project_id == fresh.pk
    services.assignment_submit(
        annotator=annotator,
        assignment_id=first.pk,
        claim_version=first.claim_version,
        answer={"category": "car"},
    )
    second = Assignment.objects.get(pk=client.post("/work/next").url.split("/")[3])
    assert second.project_id == fresh.pk  # the choice is kept for the next task
    services.assignment_submit(
        annotator=annotator,
        assignment_id=second.pk,
        claim_version=second.claim_version,
        answer={"category": "car"},
    )
    response = client.post("/work/next", follow=True)  # the chosen project is empty now
    assert "No task is waiting for you in the project you chose" in response.content.decode()
    assert Assignment.objects.filter(annotator=annotator).count() == 2
    third = Assignment.objects.get(pk=client.post("/work/next", {"project": "any"}).url.split("/")[3])
    assert third.project_id == urgent.pk  # the platform's order again


def test_choosing_a_project_that_is_not_open_is_refused_and_claims_nothing(client, qualification):
    annotator = AnnotatorFactory()
    gated = ProjectFactory()
    gated.required_qualifications.add(qualification)
    text_task(gated, 1)
    client.force_login(annotator.user)

    response = client.post("/work/next", {"project": str(gated.pk)}, follow=True)

    assert "That project is not open to you any more" in response.content.decode()
    assert not Assignment.objects.exists()


def test_reviewers_see_how_many_reviews_wait_for_them(client, held_review):  # noqa: F811
    reviewer(client)
    assert 'data-testid="reviews-waiting">1<' in client.get("/work/").content.decode()
    assert 'data-testid="reviews-waiting">1<' in client.get("/work/review/").content.decode()
    take_review(client)
    page = client.get("/work/").content.decode()
    assert 'data-testid="reviews-waiting">0<' in page and "1 you are reviewing" in page
    # The annotator who answered the task never counts it.
    answered_by = held_review.submissions.get().annotator
    answered_by.is_reviewer = True
    answered_by.save()
    client.force_login(answered_by.user)
    assert 'data-testid="reviews-waiting">0<' in client.get("/work/").content.decode()


def fix(client, review, body):
    return client.post(f"/work/review/{review.pk}/fix", json.dumps(body), content_type="application/json")


def test_a_fix_from_the_tool_is_checked_like_an_answer_and_refusals_change_nothing(client, held_review):  # noqa: F811
    reviewer(client)
    review = take_review(client)
    bad = {"annotations": [{"type": "box", "label": "giraffe", "left": 1, "top": 1, "width": 5, "height": 5}]}

    refused = fix(client, review, {"verdict": "fix", "answer": bad, "comment": "no"})
    assert refused.status_code == 400
    assert (
        refused.json()["error"]["message"]
        == "annotations[0].label: 'giraffe' is not one of ['car', 'pedestrian']"
    )
    review.refresh_from_db()
    assert review.status == Review.Status.ASSIGNED and review.corrected_answer is None

    good = {
        "annotations": [{"type": "box", "label": "car", "left": 12, "top": 20, "width": 30, "height": 40}]
    }
    response = fix(client, review, {"verdict": "fix", "answer": good, "comment": "moved"})
    assert response.status_code == 200 and response.json()["next_url"] == "/work/review/"
    review.refresh_from_db()
    assert (review.verdict, review.corrected_answer, review.comment) == ("fix", good, "moved")
    held_review.refresh_from_db()
    assert held_review.status == Task.Status.COMPLETED and held_review.response == good


def test_only_reviewers_may_post_a_fix(client, held_review):  # noqa: F811
    reviewer(client)
    review = take_review(client)
    client.force_login(AnnotatorFactory().user)
    response = fix(client, review, {"answer": BOX})
    assert response.status_code == 403
    review.refresh_from_db()
    assert review.status == Review.Status.ASSIGNED


def test_the_client_task_page_shows_the_review_history_under_pseudonyms(client, held_review):  # noqa: F811
    the_reviewer = reviewer(client)
    review = take_review(client)
    services.review_decide(
        reviewer=the_reviewer, review_id=review.pk, verdict="accept", comment="Looks right."
    )
    member = MemberFactory(client=held_review.client, role="viewer")
    client.force_login(member.user)

    page = client.get(f"/portal/projects/{held_review.project_id}/tasks/{held_review.pk}/").content.decode()

    assert "Review history" in page and "Looks right." in page and "sampled for review" in page
    assert pseudonym(held_review.project_id, the_reviewer.pk) in page
    assert str(the_reviewer.pk) not in page and the_reviewer.user.email not in page


def test_a_box_project_of_another_client_does_not_leak_through_available_work(client):
    """Two clients' projects: the annotator sees both kinds of work, never a client's name."""
    mine = BoxProjectFactory(name="Secret Alpha", instructions="Box every car.\nMore detail here.")
    TaskFactory(project=mine, params={**mine.params, "attachment": "/static/demo/street-01.png"})
    annotator = AnnotatorFactory()
    client.force_login(annotator.user)
    page = client.get("/work/").content.decode()
    assert "Box every car." in page and "More detail here." not in page
    assert "Secret Alpha" not in page and mine.client.name not in page
