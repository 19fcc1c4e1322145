"""Client portal pages through Django's test client: who may see and do what, readable refusals
that change nothing, and tenant isolation (another client's ids answer the 404 page)."""

from __future__ import annotations

import pytest

from annotation import services
from annotation.models import ExportJob, Project, Task, TaskAudit
from annotation.tasktypes import check_project_params
from annotation.web.domain_templates import TEMPLATES
from tests.annotation.export_factories import CompletedTaskFactory, media_root  # noqa: F401 - a fixture
from tests.annotation.factories import BoxProjectFactory, ProjectFactory, TaskFactory

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


# --- sign-in and the home redirect -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/portal/",
        "/portal/projects/new/",
        "/portal/exports/",
        "/portal/api-keys/",
        "/portal/webhooks/",
        "/portal/billing/",
        "/ops/",
        "/ops/invoices/",
    ],
)
def test_pages_send_anonymous_people_to_sign_in(pages, url):
    response = pages().get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url}"


def test_home_sends_each_person_to_their_area(pages, member_pages, staff_pages, annotator_pages, client_a):
    assert member_pages(client_a, "viewer").get("/")["Location"] == "/portal/"
    assert staff_pages.get("/")["Location"] == "/ops/"
    assert annotator_pages.get("/")["Location"] == "/work/"
    landing = pages().get("/")
    assert landing.status_code == 200 and 'href="/login/"' in text(landing)


def test_a_person_with_no_role_gets_a_readable_refusal(pages):
    from tests.web.factories import NoPasswordUserFactory

    response = pages(NoPasswordUserFactory()).get("/")
    assert response.status_code == 403
    assert "No access yet" in text(response) and "not a member of any client" in text(response)


def test_the_sign_in_page_has_labelled_fields_and_the_layout_landmarks(pages):
    body = text(pages().get("/login/"))
    for needle in [
        '<label for="id_username">Email</label>',
        '<label for="id_password">Password</label>',
        'class="skip-link" href="#main"',
        '<main id="main"',
        "web/quorum.css",
        "web/htmx.min.js",
    ]:
        assert needle in body


def test_a_stale_form_gets_a_readable_page_and_changes_nothing(client_a):
    from django.test import Client as PageClient

    from tests.web.factories import MemberFactory

    browser = PageClient(enforce_csrf_checks=True)
    browser.force_login(MemberFactory(client=client_a).user)
    response = browser.post("/portal/projects/new/", {"template": "genai-sft", "name": "Stale"})
    assert response.status_code == 403
    assert "Form expired" in text(response) and "Reload the page" in text(response)
    assert not Project.objects.exists()


# --- projects ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.key)
def test_every_domain_template_is_a_valid_project_schema(template):
    check_project_params(template.task_type, template.params)
    if template.label_path:
        check_project_params(template.task_type, template.params_with(["a", "b"]))
        assert template.params_with(["a", "b"]) != template.params


def test_a_member_creates_a_project_from_a_template_with_their_own_labels(member_pages, client_a):
    response = member_pages(client_a, "member").post(
        "/portal/projects/new/",
        {
            "template": "av-2d-boxes",
            "name": "Night frames",
            "labels": "car, bus",
            "overlap": "",
            "instructions": "",
            "budget": "12.50",
        },
    )
    project = Project.objects.get(client=client_a, name="Night frames")
    assert response.status_code == 302 and response["Location"] == f"/portal/projects/{project.id}/upload/"
    assert project.task_type == "imageannotation" and project.overlap == 2
    assert project.params["geometries"]["box"]["objects_to_annotate"] == ["car", "bus"]
    from billing.selectors import project_budget

    assert project_budget(client=client_a, project_id=project.id)["budget"] == 1250


def test_a_refused_project_keeps_the_input_and_says_why(member_pages, client_a):
    ProjectFactory(client=client_a, name="Taken")
    response = member_pages(client_a).post(
        "/portal/projects/new/", {"template": "genai-pairwise", "name": "Taken", "instructions": "Be kind"}
    )
    assert response.status_code == 400
    assert "A project named “Taken” already exists." in text(response)
    assert 'value="Taken"' in text(response) and "Be kind" in text(response)
    assert Project.objects.filter(client=client_a).count() == 1


def test_the_project_list_costs_the_same_queries_for_one_or_many_projects(
    member_pages, client_a, django_assert_max_num_queries
):
    from annotation.models import Task as TaskModel

    viewer = member_pages(client_a, "viewer")
    viewer.get("/portal/")  # warm the session and the membership
    for i in range(8):
        project = ProjectFactory(client=client_a, name=f"P{i}")
        CompletedTaskFactory(project=project, response={"category": "car"}, price=125)
    with django_assert_max_num_queries(8):
        body = text(viewer.get("/portal/"))
    assert body.count("1.25 USD") == 8 and TaskModel.objects.count() == 8


def test_a_viewer_reads_projects_but_cannot_create_one(member_pages, client_a):
    ProjectFactory(client=client_a, name="Visible")
    viewer = member_pages(client_a, "viewer")
    listing = viewer.get("/portal/")
    assert listing.status_code == 200 and "Visible" in text(listing) and "New project" not in text(listing)
    refused = viewer.post("/portal/projects/new/", {"template": "genai-sft", "name": "Nope"})
    assert refused.status_code == 403 and "Your role (viewer) does not allow this" in text(refused)
    assert not Project.objects.filter(name="Nope").exists()


def test_the_project_page_shows_progress_quality_and_answers_over_the_image(member_pages, client_a):
    project = BoxProjectFactory(client=client_a, name="Boxes")
    box = {"type": "box", "label": "car", "left": 10, "top": 20, "width": 30, "height": 40}
    CompletedTaskFactory(
        project=project,
        unique_id="frame-1",
        confidence=0.8,
        response={"annotations": [box]},
        params={
            **project.params,
            "attachment": "/static/demo/street-01.png",
            "attachment_width": 640,
            "attachment_height": 360,
        },
    )
    TaskFactory(
        project=project,
        unique_id="frame-2",
        params={**project.params, "attachment": "/static/demo/street-02.png"},
    )
    body = text(member_pages(client_a, "viewer").get(f"/portal/projects/{project.id}/"))
    assert "<dt>Completed</dt><dd>1</dd>" in body and "<dt>Pending</dt><dd>1</dd>" in body
    assert 'viewBox="0 0 640 360"' in body and '<rect x="10" y="20" width="30" height="40"' in body
    assert "80.0%" in body  # agreement: mean confidence of completed tasks
    assert "Cumulative completed tasks" in body


def test_quality_shows_agreement_and_annotators_under_pseudonyms(member_pages, client_a):
    from annotation.models import ProjectWorker
    from annotation.quality_selectors import pseudonym
    from tests.annotation.export_factories import submit
    from tests.annotation.factories import AnnotatorFactory

    project = ProjectFactory(client=client_a, overlap=2)
    ann1, ann2 = (
        AnnotatorFactory(user__email="secret-one@example.test"),
        AnnotatorFactory(user__email="secret-two@example.test"),
    )
    tasks = [
        CompletedTaskFactory(project=project, response={"category": "car"}, confidence=1.0) for _ in range(2)
    ]
    for task in tasks:
        submit(task, ann1, answer={"category": "car"})
        submit(task, ann2, answer={"category": "car"})
    for annotator in (ann1, ann2):
        ProjectWorker.objects.create(
            project=project, annotator=annotator, consensus_answers=2, consensus_score=2.0
        )
    viewer = member_pages(client_a, "viewer")
    body = text(viewer.get(f"/portal/projects/{project.id}/"))
    assert "Krippendorff" in body and "<td>category</td>" in body
    assert pseudonym(project.id, ann1.id) in body and pseudonym(project.id, ann2.id) in body
    assert "secret-one" not in body and "secret-two" not in body
    detail = text(viewer.get(f"/portal/projects/{project.id}/tasks/{tasks[0].id}/"))
    assert pseudonym(project.id, ann1.id) in detail and "secret-one" not in detail


def test_text_tasks_show_their_text_and_answer(member_pages, client_a):
    project = ProjectFactory(client=client_a)
    CompletedTaskFactory(
        project=project,
        response={"category": "pedestrian"},
        params={**project.params, "attachment": "A person crossing at night", "attachment_type": "text"},
    )
    body = text(member_pages(client_a, "viewer").get(f"/portal/projects/{project.id}/"))
    assert "A person crossing at night" in body and "<pre>pedestrian</pre>" in body


def test_a_member_pauses_and_resumes_a_project_and_a_viewer_cannot(member_pages, client_a):
    project = ProjectFactory(client=client_a, name="Lanes")
    assert (
        member_pages(client_a, "viewer")
        .post(f"/portal/projects/{project.id}/status", {"status": "paused"})
        .status_code
        == 403
    )
    member = member_pages(client_a, "member")
    paused = member.post(f"/portal/projects/{project.id}/status", {"status": "paused"}, follow=True)
    assert "Project Lanes paused." in text(paused)
    project.refresh_from_db()
    assert project.status == "paused"
    member.post(f"/portal/projects/{project.id}/status", {"status": "active"})
    project.refresh_from_db()
    assert project.status == "active"
    bad = member.post(f"/portal/projects/{project.id}/status", {"status": "deleted"}, follow=True)
    assert "Choose pause, resume or archive." in text(bad)


# --- isolation ------------------------------------------------------------------------------------


@pytest.fixture
def other_tenant(client_b, media_root):  # noqa: F811 - the fixture
    project = ProjectFactory(client=client_b, name="Beta secret project")
    task = CompletedTaskFactory(project=project, unique_id="beta-secret-task", response={"category": "car"})
    job = services.export_create(client=client_b, actor=None, project=project, format="jsonl").job
    services.export_run(export_id=job.id)
    return {"project": project, "task": task, "export": job}


def test_another_clients_objects_answer_the_not_found_page(member_pages, client_a, other_tenant):
    p, t, e = other_tenant["project"].id, other_tenant["task"].id, other_tenant["export"].id
    own = ProjectFactory(client=client_a)
    owner = member_pages(client_a, "owner")
    for url in [
        f"/portal/projects/{p}/",
        f"/portal/projects/{p}/upload/",
        f"/portal/projects/{p}/tasks/{t}/",
        f"/portal/projects/{own.id}/tasks/{t}/",
        f"/portal/projects/{p}/exports/{e}/download",
        f"/portal/projects/{own.id}/exports/{e}/download",
        f"/portal/projects/{p}/exports/{e}/row",
    ]:
        response = owner.get(url)
        assert response.status_code == 404, url
        assert "Not found" in text(response) and "beta" not in text(response).lower(), url
    audit = owner.post(f"/portal/projects/{p}/tasks/{t}/", {"decision": "reject", "comments": "x"})
    export = owner.post(f"/portal/projects/{p}/exports/", {"format": "jsonl"})
    pause = owner.post(f"/portal/projects/{p}/status", {"status": "paused"})
    assert audit.status_code == 404 and export.status_code == 404 and pause.status_code == 404
    other_tenant["project"].refresh_from_db()
    assert other_tenant["project"].status == "active"
    assert not TaskAudit.objects.exists() and ExportJob.objects.count() == 1


def test_lists_do_not_show_another_clients_data(member_pages, client_a, other_tenant):
    owner = member_pages(client_a, "owner")
    for url in ["/portal/", "/portal/exports/", "/portal/billing/", "/portal/webhooks/", "/portal/api-keys/"]:
        body = text(owner.get(url)).lower()
        assert "beta" not in body, url


# --- uploads -------------------------------------------------------------------------------------------


def upload(browser, project, name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return browser.post(f"/portal/projects/{project.id}/upload/", {"file": SimpleUploadedFile(name, content)})


def test_a_good_csv_creates_every_task(member_pages, client_a):
    project = BoxProjectFactory(client=client_a)
    response = upload(
        member_pages(client_a, "member"),
        project,
        "frames.csv",
        b"unique_id,attachment,metadata.camera,tags\nf-1,https://img.example.test/1.jpg,front,a;b\n"
        b"f-2,https://img.example.test/2.jpg,rear,\n",
    )
    assert response.status_code == 302
    tasks = {t.unique_id: t for t in Task.objects.filter(project=project)}
    assert set(tasks) == {"f-1", "f-2"}
    assert tasks["f-1"].params["attachment"] == "https://img.example.test/1.jpg" and tasks[
        "f-1"
    ].metadata == {"camera": "front"}
    assert tasks["f-1"].tags == ["a", "b"]


def test_bad_rows_are_reported_by_line_and_nothing_is_created(member_pages, client_a):
    project = BoxProjectFactory(client=client_a)
    content = (
        b'{"unique_id": "ok-1", "params": {"attachment": "https://img.example.test/1.jpg"}}\n'
        b'{"unique_id": "no-attachment", "params": {}}\n'
        b"not json\n"
        b'{"unique_id": "ok-1", "params": {"attachment": "https://img.example.test/2.jpg"}}\n'
        b'{"params": {"attachment": "https://img.example.test/3.jpg"}, "priority": 500}\n'
    )
    response = upload(member_pages(client_a, "member"), project, "tasks.jsonl", content)
    body = text(response)
    assert response.status_code == 400
    assert "4 of 5 rows have problems; nothing was created." in body
    assert '<td class="num">2</td><td>params.attachment: required</td>' in body
    assert '<td class="num">3</td><td>not valid JSON' in body
    assert '<td class="num">4</td><td>unique_id: “ok-1” repeats line 1 in the same request</td>' in body
    assert '<td class="num">5</td><td>priority: must be an integer between -100 and 100</td>' in body
    assert not Task.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The submitted file is empty."),
        (b"\xff\xfe\x00a", "not UTF-8"),
        (b"attachment\n\n", "The file has no tasks."),
    ],
)
def test_an_unreadable_file_is_refused_with_a_message(member_pages, client_a, content, message):
    project = BoxProjectFactory(client=client_a)
    response = upload(member_pages(client_a, "member"), project, "tasks.csv", content)
    assert response.status_code == 400 and message in text(response)
    assert not Task.objects.exists()


def test_a_viewer_cannot_upload(member_pages, client_a):
    project = BoxProjectFactory(client=client_a)
    response = upload(
        member_pages(client_a, "viewer"), project, "t.csv", b"attachment\nhttps://img.example.test/1.jpg\n"
    )
    assert response.status_code == 403 and not Task.objects.exists()


# --- audit and exports -----------------------------------------------------------------------------------


def test_a_member_audits_a_completed_task(member_pages, client_a):
    task = CompletedTaskFactory(project=ProjectFactory(client=client_a), response={"category": "car"})
    response = member_pages(client_a, "member").post(
        f"/portal/projects/{task.project_id}/tasks/{task.id}/",
        {"decision": "reject", "comments": "The car is a bus."},
    )
    assert response.status_code == 302
    audit = TaskAudit.objects.get(task=task)
    assert audit.accepted is False and audit.comments == "The car is a bus."
    task.refresh_from_db()
    assert (
        task.status == Task.Status.PENDING and task.rework_round == 1
    )  # issue 3: a rejection sends it to rework
    page = text(member_pages(client_a, "viewer").get(response["Location"]))
    assert "pending (rework round 1)" in page and "Rejected" in page


def test_auditing_a_pending_task_is_refused_on_the_page(member_pages, client_a):
    task = TaskFactory(project=ProjectFactory(client=client_a))
    response = member_pages(client_a, "member").post(
        f"/portal/projects/{task.project_id}/tasks/{task.id}/", {"decision": "accept", "comments": "fine"}
    )
    assert response.status_code == 400
    assert "Only completed tasks can be audited; this task is pending." in text(response)
    assert not TaskAudit.objects.exists()


@pytest.mark.usefixtures("media_root")
def test_an_export_is_created_and_downloaded_once_ready(member_pages, client_a):
    project = ProjectFactory(client=client_a)
    CompletedTaskFactory(project=project, unique_id="done-1", response={"category": "car"})
    member = member_pages(client_a, "member")
    assert member.post(f"/portal/projects/{project.id}/exports/", {"format": "jsonl"}).status_code == 302
    job = ExportJob.objects.get(project=project)
    not_ready = member.get(f"/portal/projects/{project.id}/exports/{job.id}/download")
    assert not_ready.status_code == 409 and "it can be downloaded once ready" in text(not_ready)
    row = text(member.get(f"/portal/projects/{project.id}/exports/{job.id}/row"))
    assert 'hx-trigger="every 3s"' in row and "not ready" in row
    services.export_run(export_id=job.id)
    row = text(member.get(f"/portal/projects/{project.id}/exports/{job.id}/row"))
    assert "hx-trigger" not in row and f"/portal/projects/{project.id}/exports/{job.id}/download" in row
    assert f"/portal/projects/{project.id}/exports/{job.id}/download" in text(member.get("/portal/exports/"))
    download = member.get(f"/portal/projects/{project.id}/exports/{job.id}/download")
    assert download.status_code == 200 and b"done-1" in b"".join(download.streaming_content)


def test_an_unknown_export_format_is_refused_readably(member_pages, client_a):
    project = ProjectFactory(client=client_a)
    response = member_pages(client_a, "member").post(
        f"/portal/projects/{project.id}/exports/", {"format": "coco"}, follow=True
    )
    assert "coco" in text(response) and ExportJob.objects.count() == 0
    assert 'class="error"' in text(response)


def test_a_unique_id_of_another_project_is_a_bad_row_and_existing_ones_are_left(member_pages, client_a):
    project, other = BoxProjectFactory(client=client_a), BoxProjectFactory(client=client_a)
    TaskFactory(
        project=other,
        unique_id="taken",
        params={**other.params, "attachment": "https://img.example.test/0.jpg"},
    )
    member = member_pages(client_a, "member")
    refused = upload(
        member, project, "t.csv", b"unique_id,attachment\ntaken,https://img.example.test/1.jpg\n"
    )
    assert refused.status_code == 400
    assert "unique_id: “taken” already names a task of another project" in text(refused)
    assert (
        upload(
            member, project, "t.csv", b"unique_id,attachment\nmine,https://img.example.test/1.jpg\n"
        ).status_code
        == 302
    )
    again = upload(
        member,
        project,
        "t.csv",
        b"unique_id,attachment\nmine,https://img.example.test/1.jpg\nnew,https://img.example.test/2.jpg\n",
    )
    page = member.get(again["Location"])
    assert (
        "1 task created from t.csv. 1 already existed (same unique_id) and were left as they were."
        in text(page)
    )
    assert Task.objects.filter(project=project).count() == 2
