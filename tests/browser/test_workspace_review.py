"""The reviewer's queue and a qualification test in a real browser (Chromium on the live server)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from annotation import services
from annotation.models import Annotator, Review, Submission, Task
from tests.annotation.factories import AnnotatorFactory, BoxProjectFactory, TaskFactory
from tests.browser.conftest import login, make_user, screenshot
from tests.browser.test_workspace import IMAGE

BOX = {
    "annotations": [
        {"type": "box", "label": "pedestrian", "left": 60, "top": 40, "width": 200, "height": 120}
    ]
}


def test_a_reviewer_rejects_an_answer(page):
    project = BoxProjectFactory(review_enabled=True, review_share=1.0)
    task = TaskFactory(project=project, params={**project.params, **IMAGE})
    worker = AnnotatorFactory()
    claim = services.assignment_claim(annotator=worker)
    services.assignment_submit(
        annotator=worker,
        assignment_id=claim.assignment.pk,
        claim_version=claim.assignment.claim_version,
        answer=BOX,
    )
    AnnotatorFactory(user=make_user("reviewer@example.test"), is_reviewer=True)

    login(page, "reviewer@example.test")
    page.get_by_role("link", name="Review", exact=True).click()
    page.get_by_role("button", name="Start reviewing").click()
    expect(page).to_have_url(re.compile(r"/work/review/[0-9a-f-]+/$"))
    expect(page.get_by_role("img", name="The answer 1 drawn over the image.")).to_be_visible()
    expect(page.get_by_role("list", name="Shapes of the answer 1")).to_contain_text("box · pedestrian")
    page.get_by_label("Comment for the record (optional)").fill("That is a car, not a pedestrian.")
    screenshot(page, "review")
    page.get_by_role("button", name="Reject the answers (back to the queue)").click()

    expect(page.get_by_text("Verdict recorded: reject.")).to_be_visible()
    review = Review.objects.get()
    assert (review.status, review.verdict, review.comment) == (
        Review.Status.DECIDED,
        "reject",
        "That is a car, not a pedestrian.",
    )
    assert Submission.objects.get().status == Submission.Status.REJECTED
    task.refresh_from_db()
    assert (task.status, task.in_review) == (Task.Status.PENDING, False)
    screenshot(page, "decided")


def test_an_applicant_passes_a_qualification_test_with_the_labeling_tool(page):
    qualification = services.qualification_create(
        client=None,
        actor="staff:test",
        name="Pets 101",
        task_type="categorization",
        params={"categories": ["cat", "dog"]},
        pass_mark=1.0,
        questions=[
            {
                "params": {"attachment": "A purring animal", "attachment_type": "text"},
                "gold_answer": {"category": "cat"},
            }
        ],
    )
    applicant = AnnotatorFactory(user=make_user("applicant@example.test"), status=Annotator.Status.APPLICANT)

    login(page, "applicant@example.test")
    expect(page.get_by_role("button", name="Start working")).to_be_disabled()
    page.get_by_role("link", name="Qualifications").click()
    page.get_by_role("button", name="Take the test: Pets 101").click()
    expect(page.get_by_text("A purring animal")).to_be_visible()
    page.keyboard.press("1")
    screenshot(page, "question")
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_contain_text("You passed: your score is 100 %")
    applicant.refresh_from_db()
    assert applicant.status == Annotator.Status.ACTIVE
    assert applicant.qualifications.get().qualification_id == qualification.pk
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Work").click()
    expect(page.get_by_role("button", name="Start working")).to_be_enabled()
