"""Issue 14's rough edges on the pages: labels, plurals, the lease clock, malformed ids, upload
reports, confirmations, the ops queue's open slots and the API's field prefixes."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.models import Task
from annotation.web import ops_selectors
from clients.web.errors import readable
from tests.annotation.export_factories import CompletedTaskFactory
from tests.annotation.factories import AnnotatorFactory, BoxProjectFactory, ProjectFactory, TaskFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def text(response) -> str:
    return response.content.decode()


def test_the_generative_ai_domain_is_spelled_ai(member_pages, client_a):
    ProjectFactory(client=client_a, domain="generative_ai")
    page = text(member_pages(client_a, "viewer").get("/portal/"))
    assert "Generative AI" in page and "Generative Ai" not in page


def test_one_task_is_singular_on_the_project_list(member_pages, client_a):
    TaskFactory(project=ProjectFactory(client=client_a))
    page = text(member_pages(client_a, "viewer").get("/portal/"))
    assert "0 of 1 task completed" in page and "1 tasks" not in page


def test_the_lease_clock_never_reads_expired_left(client):
    """The word "left" is written by the clock with the time, so an ended lease reads "expired"."""
    from tests.web.test_workspace_pages import signed_in, start

    TaskFactory(project=ProjectFactory())
    page = text(signed_in(client, AnnotatorFactory()).get(f"/work/a/{start(client).pk}/"))
    assert 'id="lease-clock" aria-live="off">…</span> <span' in page
    script = (ROOT / "annotation/static/annotation/workspace.js").read_text()
    assert 'formatSeconds(seconds) + " left" : "expired"' in script


@pytest.mark.parametrize(
    "path",
    [
        "/portal/projects/{bad}/",
        "/portal/projects/{bad}/upload/",
        "/portal/projects/{bad}/tasks/{bad}/",
        "/portal/projects/{project}/tasks/{bad}/",
        "/portal/projects/{bad}/exports/{bad}/row",
        "/portal/projects/{project}/exports/{bad}/download",
    ],
)
def test_a_malformed_id_in_a_portal_url_is_the_404_page_even_with_debug_on(
    member_pages, client_a, settings, path
):
    settings.DEBUG = True
    project = ProjectFactory(client=client_a)
    response = member_pages(client_a, "owner").get(path.format(bad="not-a-uuid", project=project.pk))
    assert response.status_code == 404
    body = text(response)
    assert "Not found" in body and "URLconf" not in body and "Traceback" not in body


def test_a_well_formed_unknown_project_id_is_still_404(member_pages, client_a):
    assert member_pages(client_a, "viewer").get(f"/portal/projects/{uuid.uuid4()}/").status_code == 404


def test_an_upload_report_lists_every_problem_of_a_row_readably(member_pages, client_a):
    project = BoxProjectFactory(client=client_a)
    content = (
        b'{"params": {}, "priority": 500, "tags": "x", "colour": 1}\n'
        b'{"params": {"attachment": "https://img.example.test/1.jpg"}}\n'
    )
    response = member_pages(client_a, "member").post(
        f"/portal/projects/{project.id}/upload/", {"file": SimpleUploadedFile("t.jsonl", content)}
    )
    assert response.status_code == 400
    body = text(response)
    assert "1 of 2 rows has problems; nothing was created." in body
    for problem in (
        "colour: unknown field",
        "params.attachment: required",
        "priority: must be an integer between -100 and 100",
        "tags: must be a list of strings",
    ):
        assert f"<li>{problem}</li>" in body, problem
    assert not Task.objects.exists()


def test_python_reprs_in_upload_messages_become_plain_text():
    from annotation.web.uploads import humanize

    assert humanize("params.category: 'zebra' is not one of ['car', 'bus']") == (
        "params.category: “zebra” is not one of car, bus"
    )
    assert humanize("unique_id: 'u' repeats tasks[0] in the same request", lines={0: 2}) == (
        "unique_id: “u” repeats line 2 in the same request"
    )
    assert (
        humanize("geometries.box[0].min_width: must be a number")
        == "geometries.box[0].min_width: must be a number"
    )


def test_archive_and_reject_ask_for_confirmation(member_pages, client_a):
    task = CompletedTaskFactory(project=ProjectFactory(client=client_a), response={"category": "car"})
    member = member_pages(client_a, "member")
    project_page = text(member.get(f"/portal/projects/{task.project_id}/"))
    assert 'class="inline" data-confirm="Archive' in project_page
    task_page = text(member.get(f"/portal/projects/{task.project_id}/tasks/{task.id}/"))
    assert (
        'data-confirm="Reject this task?' in task_page and 'data-confirm-when="decision=reject"' in task_page
    )
    script = (ROOT / "config/static/web/portal.js").read_text()
    assert (
        'querySelectorAll("form[data-confirm]")' in script
        and "window.confirm(form.dataset.confirm)" in script
    )


def test_the_ops_queue_leaves_gold_out_of_open_answer_slots(client_a):
    project = ProjectFactory(client=client_a, overlap=3)
    TaskFactory.create_batch(2, project=project, overlap=3)
    TaskFactory(project=project, is_gold=True, gold_answer={"category": "car"}, overlap=10_000)
    (row,) = ops_selectors.queue_depth()
    assert row["open_slots"] == 6


@pytest.mark.parametrize(
    ("message", "field", "shown"),
    [
        ("verdict: must be one of accept, reject, fix", None, "Verdict must be one of accept, reject, fix"),
        ("verdict: must be one of accept, reject, fix", "verdict", "Must be one of accept, reject, fix"),
        ("period: expected a month as YYYY-MM", "period", "Expected a month as YYYY-MM"),
        ("The task is completed.", None, "The task is completed."),
        ("price_per_task: the price must cover", None, "Price per task: the price must cover"),
        (
            "price_per_task: the annotators' pay (the rate card's price) for 'x'",
            "price_per_task",
            "The annotators' pay (the rate card's price) for “x”",
        ),
    ],
)
def test_api_field_prefixes_read_as_words_on_pages(message, field, shown):
    assert readable(message, field) == shown


def test_the_ops_dashboard_answers_on_a_platform_without_ledger_accounts(staff_pages):
    """No revenue or cost account yet (a fresh platform): the margin query's two empty id lists
    are typed arrays, not text, so the page answers instead of a 500."""
    assert staff_pages.get("/ops/").status_code == 200
