"""The annotator workspace's pages through Django's test client: who may see them, what they show
(only the annotator's own assigned work: no client names, no other tasks, no other annotators'
answers) and every refusal as a readable message that changes nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from annotation.models import Annotator, Assignment, Submission
from billing import services as billing_services
from tests.annotation.factories import AnnotatorFactory, BoxProjectFactory, ProjectFactory, TaskFactory
from tests.clients.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db

SECRET_CLIENT = "Zebracorp Secret Vehicles"
SECRET_PROJECT = "Project Nightjar"
GET_PAGES = ["/work/", "/work/earnings/", "/work/accuracy/"]


@pytest.fixture
def box_task():
    client = ClientFactory(name=SECRET_CLIENT)
    project = BoxProjectFactory(
        client=client, name=SECRET_PROJECT, instructions="Draw a box around every car.", lease_seconds=600
    )
    return TaskFactory(
        project=project,
        params={
            **project.params,
            "attachment": "/static/demo/street-01.png",
            "attachment_width": 640,
            "attachment_height": 480,
        },
        metadata={"customer_ref": "zebra-internal-4471"},
        pay=1500,
    )


def signed_in(client, annotator):
    client.force_login(annotator.user)
    return client


def start(client) -> Assignment:
    response = client.post("/work/next")
    assert response.status_code == 302
    assignment = Assignment.objects.get(pk=response.url.split("/")[3])
    assert response.url == f"/work/a/{assignment.pk}/"
    return assignment


def submit(client, assignment, answer, claim_version=None):
    body = {
        "claim_version": assignment.claim_version if claim_version is None else claim_version,
        "answer": answer,
    }
    return client.post(f"/work/a/{assignment.pk}/submit", json.dumps(body), content_type="application/json")


BOX = {"annotations": [{"type": "box", "label": "car", "left": 10, "top": 20, "width": 30, "height": 40}]}


# --- who may see the pages ------------------------------------------------------------------------


@pytest.mark.parametrize("url", GET_PAGES)
def test_signed_out_people_are_sent_to_sign_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"/login/?next={url}"


@pytest.mark.parametrize("url", GET_PAGES)
def test_a_person_without_an_annotator_profile_gets_a_readable_403(client, url):
    client.force_login(UserFactory())

    response = client.get(url)

    assert response.status_code == 403
    assert "no annotator profile" in response.content.decode()


def test_a_person_without_an_annotator_profile_cannot_claim(client, box_task):
    client.force_login(UserFactory())

    response = client.post("/work/next")

    assert response.status_code == 403
    assert not Assignment.objects.exists()


def test_an_applicant_sees_why_no_work_is_served_and_a_claim_is_refused_readably(client, box_task):
    annotator = AnnotatorFactory(status=Annotator.Status.APPLICANT)
    signed_in(client, annotator)

    page = client.get("/work/").content.decode()
    refused = client.post("/work/next")

    assert "Your annotator account is <strong>applicant</strong>" in page
    assert refused.status_code == 403
    assert "only active annotators can claim work" in refused.content.decode()
    assert not Assignment.objects.exists()


# --- the queue and the task page ------------------------------------------------------------------


def test_start_working_serves_the_task_with_its_tool_and_no_client_data(client, box_task):
    annotator = AnnotatorFactory()
    other_project = ProjectFactory(client=box_task.client, name="Other project")
    TaskFactory(project=other_project, params={**other_project.params, "attachment": "other task text"})
    signed_in(client, annotator)

    assignment = start(client)
    page = client.get(f"/work/a/{assignment.pk}/").content.decode()

    assert assignment.task_id == box_task.pk and assignment.annotator_id == annotator.pk
    assert "Draw a box around every car." in page
    assert "annotation/tools/imageannotation.js" in page
    data = json.loads(
        page.split('<script id="assignment-data" type="application/json">')[1].split("</script>")[0]
    )
    assert datetime.fromisoformat(data.pop("server_now")) >= assignment.claimed_at
    assert data == {
        "assignment_id": str(assignment.pk),
        "claim_version": assignment.claim_version,
        "task_type": "imageannotation",
        "params": box_task.params,
        "lease_seconds": 600,
        "leased_until": assignment.leased_until.isoformat(),
        "lease_warning_seconds": 120,
        "initial": None,
        "initial_source": "hypothesis",
        "urls": {
            "submit": f"/work/a/{assignment.pk}/submit",
            "heartbeat": f"/work/a/{assignment.pk}/heartbeat",
        },
    }
    for secret in (SECRET_CLIENT, SECRET_PROJECT, "zebra-internal-4471", "other task text", "Other project"):
        assert secret not in page


def test_start_working_resumes_the_live_lease(client, box_task):
    signed_in(client, AnnotatorFactory())
    first = start(client)

    second = start(client)
    home = client.get("/work/").content.decode()

    assert second.pk == first.pk
    assert f"/work/a/{first.pk}/" in home


def test_an_empty_queue_says_so(client):
    signed_in(client, AnnotatorFactory())

    response = client.post("/work/next", follow=True)

    assert response.redirect_chain == [("/work/", 302)]
    assert "No task is available for you right now" in response.content.decode()


def test_another_annotators_assignment_is_not_found(client, box_task):
    owner = AnnotatorFactory()
    signed_in(client, owner)
    assignment = start(client)
    intruder = AnnotatorFactory()
    client.force_login(intruder.user)

    page = client.get(f"/work/a/{assignment.pk}/")
    submitted = submit(client, assignment, BOX)
    skipped = client.post(f"/work/a/{assignment.pk}/skip", {"claim_version": assignment.claim_version})

    assert page.status_code == 404
    assert submitted.status_code == 404 and submitted.json()["error"]["code"] == "not_found"
    assert skipped.status_code == 404
    assert SECRET_PROJECT not in page.content.decode()
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.ACTIVE
    assert not Submission.objects.exists()


def test_a_video_file_task_is_labeled_in_the_browser(client):
    project = ProjectFactory(task_type="videoannotation", params={"labels": ["car"]})
    TaskFactory(
        project=project, params={"labels": ["car"], "attachment": "/media/clip.mp4", "frame_count": 30}
    )
    signed_in(client, AnnotatorFactory())

    assignment = start(client)
    page = client.get(f"/work/a/{assignment.pk}/").content.decode()

    assert "not supported in the browser" not in page
    assert "annotation/tools/videoannotation.js" in page and "annotation/workspace.js" in page
    assert '"attachment": "/media/clip.mp4"' in page and '"frame_count": 30' in page


# --- submit, heartbeat, skip, release -------------------------------------------------------------


def test_submit_stores_the_answer_and_sends_the_annotator_on(client, box_task):
    annotator = AnnotatorFactory()
    signed_in(client, annotator)
    assignment = start(client)

    response = submit(client, assignment, BOX)

    assert response.status_code == 200
    assert response.json() == {"submitted": True, "next_url": "/work/"}
    submission = Submission.objects.get()
    assert (submission.annotator_id, submission.answer) == (annotator.pk, BOX)
    assert "No task is available" in client.get("/work/").content.decode()


def test_an_invalid_answer_is_a_readable_400_that_changes_nothing(client, box_task):
    signed_in(client, AnnotatorFactory())
    assignment = start(client)

    response = submit(client, assignment, {"annotations": [{**BOX["annotations"][0], "label": "giraffe"}]})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_answer"
    assert response.json()["error"]["message"].startswith("annotations[0].label: 'giraffe' is not one of")
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.ACTIVE
    assert not Submission.objects.exists()


@pytest.mark.parametrize(
    "body", [b"not json", b"[1]", b'{"answer": {}}', b'{"claim_version": "1", "answer": {}}']
)
def test_a_malformed_submit_is_a_readable_400(client, box_task, body):
    signed_in(client, AnnotatorFactory())
    assignment = start(client)

    response = client.post(f"/work/a/{assignment.pk}/submit", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("invalid_json", "invalid_request")
    assert not Submission.objects.exists()


def test_a_submit_after_the_lease_expired_is_refused_and_stores_nothing(client, box_task):
    signed_in(client, AnnotatorFactory())
    assignment = start(client)
    Assignment.objects.filter(pk=assignment.pk).update(leased_until=timezone.now() - timedelta(seconds=1))

    response = submit(client, assignment, BOX)
    page = client.get(f"/work/a/{assignment.pk}/").content.decode()

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "lease_expired"
    assert not Submission.objects.exists()
    assert "Your lease on this task expired" in page and "Get the next task" in page


def test_a_stale_claim_version_is_refused(client, box_task):
    signed_in(client, AnnotatorFactory())
    assignment = start(client)

    response = submit(client, assignment, BOX, claim_version=assignment.claim_version + 1)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "stale_claim"
    assert not Submission.objects.exists()


def test_heartbeat_extends_the_lease(client, box_task):
    signed_in(client, AnnotatorFactory())
    assignment = start(client)
    Assignment.objects.filter(pk=assignment.pk).update(leased_until=timezone.now() + timedelta(seconds=5))

    response = client.post(
        f"/work/a/{assignment.pk}/heartbeat",
        json.dumps({"claim_version": assignment.claim_version}),
        content_type="application/json",
    )

    assignment.refresh_from_db()
    assert response.status_code == 200
    assert response.json() == {"leased_until": assignment.leased_until.isoformat()}
    assert assignment.leased_until > timezone.now() + timedelta(seconds=500)


def test_heartbeat_on_an_expired_lease_says_so(client, box_task):
    signed_in(client, AnnotatorFactory())
    assignment = start(client)
    Assignment.objects.filter(pk=assignment.pk).update(leased_until=timezone.now() - timedelta(seconds=1))

    response = client.post(
        f"/work/a/{assignment.pk}/heartbeat",
        json.dumps({"claim_version": assignment.claim_version}),
        content_type="application/json",
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "lease_expired"


def test_skip_gives_the_task_back_and_serves_the_next(client, box_task):
    second = TaskFactory(project=box_task.project, params=box_task.params)
    signed_in(client, AnnotatorFactory())
    assignment = start(client)

    response = client.post(f"/work/a/{assignment.pk}/skip", {"claim_version": assignment.claim_version})

    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SKIPPED
    following = Assignment.objects.exclude(pk=assignment.pk).get()
    assert following.task_id in {box_task.pk, second.pk} - {assignment.task_id}
    assert response.url == f"/work/a/{following.pk}/"


def test_release_gives_the_task_back_and_returns_to_the_queue(client, box_task):
    signed_in(client, AnnotatorFactory())
    assignment = start(client)

    response = client.post(
        f"/work/a/{assignment.pk}/release", {"claim_version": assignment.claim_version}, follow=True
    )

    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.RELEASED
    assert "Task released back to the queue" in response.content.decode()


def test_skip_of_an_expired_lease_is_a_readable_message_that_changes_nothing(client, box_task):
    signed_in(client, AnnotatorFactory())
    assignment = start(client)
    Assignment.objects.filter(pk=assignment.pk).update(leased_until=timezone.now() - timedelta(seconds=1))

    response = client.post(
        f"/work/a/{assignment.pk}/skip", {"claim_version": assignment.claim_version}, follow=True
    )

    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.ACTIVE  # the sweep expires it, not the refused skip
    assert "Your lease on this task expired" in response.content.decode()


# --- earnings and accuracy: the annotator's own only ----------------------------------------------


def test_earnings_and_accuracy_show_the_annotators_own_work_only(client, box_task):
    me, other = AnnotatorFactory(), AnnotatorFactory()
    signed_in(client, me)
    submit(client, start(client), BOX)
    TaskFactory(project=box_task.project, params=box_task.params, pay=1500)
    client.force_login(other.user)
    submit(client, start(client), BOX)
    client.force_login(me.user)
    billing_services.payout_create(
        user_id=me.user_id, currency="USD", amount=1000, key="payout:test-1", actor=me.user
    )

    earnings = client.get("/work/earnings/").content.decode()
    accuracy = client.get("/work/accuracy/").content.decode()

    assert "<dt>Payable (USD)</dt><dd>5.00 USD</dd>" in earnings  # 15.00 earned, 10.00 paid out
    assert '<td class="num">10.00 USD</td><td>Paid</td>' in earnings
    assert earnings.count("<td>Accepted</td>") == 1  # my one answer, not the other annotator's
    assert SECRET_CLIENT not in earnings and SECRET_PROJECT not in earnings
    assert "<dt>Accepted</dt><dd>1</dd>" in accuracy
    assert "<dt>Acceptance rate</dt><dd>100.0 %</dd>" in accuracy
    assert (
        "<td>Image Annotation</td><td>Active</td>" in accuracy
    )  # the project by its task type, never its name
    assert SECRET_CLIENT not in accuracy and SECRET_PROJECT not in accuracy
