"""The client portal in Chromium: create a project from a template and upload its tasks, read the
answers drawn over the images and audit one, download an export, and never see another client's
data. Each test saves screenshots under tests/browser/output/<test name>/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from annotation import services
from annotation.models import ExportJob, Project, Task, TaskAudit
from billing import invoices
from billing import services as billing_services
from tests.annotation.export_factories import CompletedTaskFactory
from tests.annotation.factories import BoxProjectFactory, ProjectFactory
from tests.billing.clock import ledger_at, utc
from tests.browser.conftest import TABLET, login, make_member, screenshot
from tests.clients.factories import ClientFactory


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def test_a_client_creates_a_project_and_uploads_tasks(page, tmp_path):
    membership = make_member(
        ClientFactory(name="Acme Autonomy", slug="acme"), email="pm@acme.test", role="member"
    )
    login(page, "pm@acme.test")
    expect(page).to_have_url(re.compile(r"/portal/$"))

    page.get_by_role("link", name="New project").click()
    page.get_by_label("2D boxes: vehicles, pedestrians, cyclists, traffic lights").check()
    page.get_by_label("Name", exact=True).fill("Night drive")
    page.get_by_label("Labels (optional)").fill("car, bus, cyclist")
    screenshot(page, "1-new-project")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Upload tasks to Night drive")

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "unique_id,attachment\nf-1,https://img.example.test/1.jpg\nf-2,\nf-1,https://img.example.test/3.jpg\n"
    )
    page.get_by_label("Task file (CSV or JSON Lines)").set_input_files(str(bad))
    page.get_by_role("button", name="Upload").click()
    report = page.locator("#upload-report")
    expect(report).to_contain_text("params.attachment: required")
    expect(report.locator("tbody tr")).to_have_count(2)
    expect(page.get_by_role("alert").first).to_contain_text("nothing was created")
    screenshot(page, "2-upload-report")
    assert not Task.objects.exists()

    good = tmp_path / "frames.csv"
    good.write_text(
        "unique_id,attachment,metadata.camera\n"
        + "".join(f"f-{i},/static/demo/street-{i:02d}.png,front\n" for i in range(1, 4))
    )
    page.get_by_label("Task file (CSV or JSON Lines)").set_input_files(str(good))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Night drive")
    expect(page.locator(".messages")).to_contain_text("3 tasks created from frames.csv")
    expect(page.get_by_role("link", name="f-2")).to_be_visible()
    screenshot(page, "3-project")
    project = Project.objects.get(client=membership.client, name="Night drive")
    assert sorted(Task.objects.filter(project=project).values_list("unique_id", flat=True)) == [
        "f-1",
        "f-2",
        "f-3",
    ]


def test_answers_are_drawn_over_the_image_and_the_client_rejects_one(page):
    membership = make_member(email="pm@acme.test", role="member")
    project = BoxProjectFactory(client=membership.client, name="Street boxes")
    box = {"type": "box", "label": "car", "left": 200, "top": 150, "width": 180, "height": 90}
    task = CompletedTaskFactory(
        project=project,
        unique_id="street-01",
        confidence=0.9,
        response={"annotations": [box]},
        params={**project.params, "attachment": "/static/demo/street-01.png"},
    )
    login(page, "pm@acme.test")
    page.get_by_role("link", name="Street boxes").click()
    overlay = page.locator("svg.answer-overlay").first
    expect(overlay.locator("rect")).to_have_count(1)
    expect(overlay).to_have_attribute("viewBox", "0 0 640 360")  # fitted to the image's natural size
    page.get_by_role("link", name="street-01").click()
    page.get_by_label("Reject").check()
    page.get_by_label("Comments").fill("The box cuts the car's rear.")
    # A rejection asks first (issue 14): dismissed, nothing is sent; accepted, it is recorded.
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Record audit").click()
    assert asked and asked[0].startswith("Reject this task?")
    assert not TaskAudit.objects.filter(task=task).exists()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Record audit").click()
    expect(page.locator(".messages")).to_contain_text("Task rejected.")
    screenshot(page, "audited")
    audit = TaskAudit.objects.get(task=task)
    assert audit.accepted is False and audit.comments == "The box cuts the car's rear."


def test_the_client_downloads_the_export(page, media_root):
    membership = make_member(email="pm@acme.test", role="member")
    project = ProjectFactory(client=membership.client, name="Chat quality")
    for i in range(3):
        CompletedTaskFactory(
            project=project, unique_id=f"chat-{i}", response={"category": "car"}, confidence=1.0
        )
    login(page, "pm@acme.test")
    page.goto(f"/portal/projects/{project.id}/")
    page.get_by_label("Format").select_option("jsonl")
    page.get_by_role("button", name="Create export").click()
    expect(page.locator(".messages")).to_contain_text("Export jsonl queued")
    page.get_by_role("link", name="Exports").click()
    row = page.locator("tbody tr").first
    expect(row).to_contain_text("queued")
    job = ExportJob.objects.get(project=project)
    services.export_run(export_id=job.id)  # what the Celery worker does with the queued job
    link = page.get_by_role("link", name=re.compile(r"^Download jsonl"))
    expect(link).to_be_visible()  # the row asked for itself again (htmx) and now links the file
    screenshot(page, "exports")
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    path = download.path()
    lines = open(path, encoding="utf-8").read().splitlines()
    assert sorted(re.search(r'"unique_id": ?"(chat-\d)"', line).group(1) for line in lines) == [
        "chat-0",
        "chat-1",
        "chat-2",
    ]
    assert download.suggested_filename.endswith(".jsonl")


def test_a_client_member_never_sees_another_clients_data(page, media_root):
    mine = make_member(ClientFactory(name="Acme Autonomy", slug="acme"), email="pm@acme.test", role="owner")
    beta = ClientFactory(name="Beta Labs", slug="beta")
    ProjectFactory(client=mine.client, name="Acme project")
    secret = ProjectFactory(client=beta, name="Beta secret project")
    task = CompletedTaskFactory(project=secret, unique_id="beta-task", response={"category": "car"})
    job = services.export_create(client=beta, actor=None, project=secret, format="jsonl").job
    services.export_run(export_id=job.id)
    with ledger_at(utc(2025, 1, 5)):
        billing_services.charge_task_completion(client=beta, task_id="b-1", amount=500)
    invoice = invoices.invoice_generate(client=beta, period_start=invoices.month_start("2025-01"))

    login(page, "pm@acme.test")
    expect(page.get_by_role("link", name="Acme project")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Beta")
    for url in [
        f"/portal/projects/{secret.id}/",
        f"/portal/projects/{secret.id}/tasks/{task.id}/",
        f"/portal/projects/{secret.id}/exports/{job.id}/download",
        f"/portal/billing/invoices/{invoice.id}/",
    ]:
        response = page.goto(url)
        assert response.status == 404, url
        expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
        expect(page.locator("main")).not_to_contain_text("Beta")
    screenshot(page, "not-found")
    page.set_viewport_size(TABLET)
    for url in ["/portal/exports/", "/portal/billing/", "/portal/webhooks/"]:
        page.goto(url)
        expect(page.locator("main")).not_to_contain_text("Beta")
    screenshot(page, "tablet-webhooks")
