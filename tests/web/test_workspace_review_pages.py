"""The reviewer's queue and the qualification tests in the workspace, through Django's test client:
who may see them, what they show (a reviewer sees the answers under review, anonymised; a test
taker never sees the gold answers), and every refusal as a readable message that changes nothing."""

from __future__ import annotations

import json

import pytest

from annotation import services
from annotation.models import (
    Annotator,
    AnnotatorQualification,
    QualificationAttempt,
    Review,
    Submission,
    Task,
)
from tests.annotation.factories import AnnotatorFactory, BoxProjectFactory, TaskFactory
from tests.clients.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db

BOX = {"annotations": [{"type": "box", "label": "car", "left": 10, "top": 20, "width": 30, "height": 40}]}
CATEGORIES = {"categories": ["cat", "dog"]}


@pytest.fixture
def held_review():
    """A box task answered once and held for review (the project reviews every task)."""
    client = ClientFactory(name="Zebracorp Secret Vehicles")
    project = BoxProjectFactory(client=client, name="Project Nightjar", review_enabled=True, review_share=1.0)
    task = TaskFactory(
        project=project,
        params={
            **project.params,
            "attachment": "/static/demo/street-01.png",
            "attachment_width": 640,
            "attachment_height": 360,
        },
    )
    worker = AnnotatorFactory(user=UserFactory(email="worker-secret@example.test"))
    claim = services.assignment_claim(annotator=worker)
    services.assignment_submit(
        annotator=worker,
        assignment_id=claim.assignment.pk,
        claim_version=claim.assignment.claim_version,
        answer=BOX,
    )
    task.refresh_from_db()
    assert task.in_review and Review.objects.filter(task=task, status=Review.Status.OPEN).exists()
    return task


def reviewer(client):
    annotator = AnnotatorFactory(is_reviewer=True)
    client.force_login(annotator.user)
    return annotator


def take_review(client) -> Review:
    response = client.post("/work/review/next")
    assert response.status_code == 302
    review = Review.objects.get(status=Review.Status.ASSIGNED)
    assert response.url == f"/work/review/{review.pk}/"
    return review


# --- review ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url"), [("get", "/work/review/"), ("post", "/work/review/next")])
def test_the_review_queue_is_for_reviewers_only(client, held_review, method, url):
    client.force_login(AnnotatorFactory(is_reviewer=False).user)

    response = getattr(client, method)(url)

    assert response.status_code == 403
    assert "reviewer role" in response.content.decode()
    assert Review.objects.get().status == Review.Status.OPEN


def test_the_review_link_shows_for_reviewers_only(client):
    client.force_login(AnnotatorFactory(is_reviewer=False).user)
    assert 'href="/work/review/"' not in client.get("/work/").content.decode()
    reviewer(client)
    assert 'href="/work/review/"' in client.get("/work/").content.decode()


def test_an_empty_review_queue_says_so(client):
    reviewer(client)

    response = client.post("/work/review/next", follow=True)

    assert "The review queue is empty right now." in response.content.decode()


def test_a_reviewer_sees_the_task_and_the_anonymised_answer_drawn_over_the_image(client, held_review):
    reviewer(client)
    review = take_review(client)

    page = client.get(f"/work/review/{review.pk}/").content.decode()

    assert "Answer 1" in page and "Provisional consensus" in page
    # each answer and the consensus are drawn read-only by the image tool, from their JSON
    assert (
        'data-readonly-answer="review-answer-1"' in page and 'data-readonly-answer="review-consensus"' in page
    )
    answer = json.loads(
        page.split('<script id="review-answer-1" type="application/json">')[1].split("</script>")[0]
    )
    assert answer["annotations"][0]["label"] == "car"
    assert "annotation/tools/imageannotation.js" in page
    for secret in ("worker-secret@example.test", "Zebracorp Secret Vehicles", "Project Nightjar"):
        assert secret not in page


def test_another_reviewers_review_is_not_found(client, held_review):
    reviewer(client)
    review = take_review(client)
    reviewer(client)

    page = client.get(f"/work/review/{review.pk}/")
    decided = client.post(f"/work/review/{review.pk}/", {"verdict": "reject"})

    assert page.status_code == 404 and decided.status_code == 404
    assert Review.objects.get().status == Review.Status.ASSIGNED


def test_a_reviewer_rejects_the_answer_and_the_task_goes_back_to_the_queue(client, held_review):
    reviewer(client)
    review = take_review(client)

    response = client.post(
        f"/work/review/{review.pk}/", {"verdict": "reject", "comment": "The box misses the car."}, follow=True
    )

    assert "Verdict recorded: reject." in response.content.decode()
    review.refresh_from_db()
    assert (review.status, review.verdict, review.comment) == (
        Review.Status.DECIDED,
        "reject",
        "The box misses the car.",
    )
    assert Submission.objects.get().status == Submission.Status.REJECTED
    held_review.refresh_from_db()
    assert (held_review.status, held_review.in_review) == (Task.Status.PENDING, False)


def test_a_reviewer_fixes_the_answer(client, held_review):
    reviewer(client)
    review = take_review(client)
    fixed = {"annotations": [{**BOX["annotations"][0], "left": 12}]}

    client.post(f"/work/review/{review.pk}/", {"verdict": "fix", "corrected_answer": json.dumps(fixed)})

    held_review.refresh_from_db()
    assert (held_review.status, held_review.response) == (Task.Status.COMPLETED, fixed)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        # The service's messages, in words (issue 14: no API field prefixes or Python reprs on pages).
        ({"verdict": "maybe"}, "Verdict must be one of accept, fix, reject"),
        ({"verdict": "fix", "corrected_answer": "{not json"}, "Corrected answer: not valid JSON"),
        (
            {
                "verdict": "fix",
                "corrected_answer": '{"annotations": [{"type": "box", "label": "giraffe", "left": 1, "top": '
                '1, "width": 5, "height": 5}]}',
            },
            "Annotations[0] label: “giraffe” is not one of",
        ),
    ],
)
def test_a_refused_verdict_is_shown_on_the_form_and_changes_nothing(client, held_review, form, message):
    reviewer(client)
    review = take_review(client)

    response = client.post(f"/work/review/{review.pk}/", form)

    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert 'role="alert" id="verdict-error"' in page
    review.refresh_from_db()
    assert review.status == Review.Status.ASSIGNED
    assert Submission.objects.get().status == Submission.Status.ACCEPTED


# --- qualifications -------------------------------------------------------------------------------


@pytest.fixture
def qualification():
    return services.qualification_create(
        client=None,
        actor="staff:test",
        name="Pets 101",
        task_type="categorization",
        params=CATEGORIES,
        pass_mark=0.5,
        questions=[
            {
                "params": {"attachment": "A purring animal", "attachment_type": "text"},
                "gold_answer": {"category": "cat"},
            },
            {
                "params": {"attachment": "A barking animal", "attachment_type": "text"},
                "gold_answer": {"category": "dog"},
            },
        ],
    )


def answer(client, attempt, question, value):
    body = {"question_id": str(question.pk), "answer": {"category": value}}
    return client.post(
        f"/work/qualifications/attempts/{attempt.pk}/answer",
        json.dumps(body),
        content_type="application/json",
    )


def test_an_applicant_takes_a_test_passes_and_becomes_active(client, qualification):
    applicant = AnnotatorFactory(status=Annotator.Status.APPLICANT)
    client.force_login(applicant.user)

    listing = client.get("/work/qualifications/").content.decode()
    started = client.post(f"/work/qualifications/{qualification.pk}/start")
    attempt = QualificationAttempt.objects.get()
    first_page = client.get(started.url).content.decode()
    questions = list(qualification.questions.order_by("position"))
    first = answer(client, attempt, questions[0], "cat")
    second = answer(client, attempt, questions[1], "dog")
    result = client.get(f"/work/qualifications/attempts/{attempt.pk}/").content.decode()

    assert "Pets 101" in listing and "Take the test" in listing
    assert started.url == f"/work/qualifications/attempts/{attempt.pk}/"
    assert "A purring animal" in first_page and "Question 1 of 2" in first_page
    assert (
        "gold" not in first_page.split('id="assignment-data"')[1].split("</script>")[0]
    )  # no gold answer on the page
    assert first.json() == second.json() == {"answered": True, "next_url": started.url}
    assert "You passed: your score is 100 %" in result
    applicant.refresh_from_db()
    assert applicant.status == Annotator.Status.ACTIVE
    assert AnnotatorQualification.objects.filter(annotator=applicant, qualification=qualification).exists()
    assert "Qualified (score 100 %)" in client.get("/work/qualifications/").content.decode()


def test_a_failed_test_shows_when_it_can_be_retaken_and_a_retake_is_refused_readably(client, qualification):
    taker = AnnotatorFactory()
    client.force_login(taker.user)
    client.post(f"/work/qualifications/{qualification.pk}/start")
    attempt = QualificationAttempt.objects.get()
    for question in qualification.questions.order_by("position"):
        answer(client, attempt, question, "cat" if question.position else "dog")  # both wrong

    listing = client.get("/work/qualifications/").content.decode()
    retake = client.post(f"/work/qualifications/{qualification.pk}/start", follow=True)

    assert "Not passed with 0 %; you can retake it after" in listing
    assert "You can take this test again after" in retake.content.decode()
    assert QualificationAttempt.objects.count() == 1


def test_an_invalid_answer_to_a_question_is_a_readable_400(client, qualification):
    client.force_login(AnnotatorFactory().user)
    client.post(f"/work/qualifications/{qualification.pk}/start")
    attempt = QualificationAttempt.objects.get()

    response = answer(client, attempt, qualification.questions.get(position=0), "horse")

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("category: 'horse' is not one of")
    assert not attempt.answers.exists()


def test_someone_elses_attempt_is_not_found(client, qualification):
    client.force_login(AnnotatorFactory().user)
    client.post(f"/work/qualifications/{qualification.pk}/start")
    attempt = QualificationAttempt.objects.get()
    client.force_login(AnnotatorFactory().user)

    page = client.get(f"/work/qualifications/attempts/{attempt.pk}/")
    answered = answer(client, attempt, qualification.questions.get(position=0), "cat")

    assert page.status_code == 404 and answered.status_code == 404
    assert not attempt.answers.exists()


@pytest.mark.parametrize("url", ["/work/review/", "/work/qualifications/"])
def test_review_and_qualification_pages_need_an_annotator(client, url):
    assert client.get(url).url == f"/login/?next={url}"
    client.force_login(UserFactory())
    assert client.get(url).status_code == 403


def test_the_fix_form_starts_from_a_valid_answer_and_submits_unchanged(client, held_review):
    reviewer(client)
    review = take_review(client)
    page = client.get(f"/work/review/{review.pk}/").content.decode()
    start = page.split('name="corrected_answer"')[1].split(">", 1)[1].split("</textarea>")[0]

    client.post(
        f"/work/review/{review.pk}/", {"verdict": "fix", "corrected_answer": start.replace("&quot;", '"')}
    )

    held_review.refresh_from_db()
    assert (held_review.status, held_review.response) == (Task.Status.COMPLETED, BOX)
