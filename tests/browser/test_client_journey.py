"""A client team's journey in Chromium, from sign-up to the operators' chart:

sign-up → e-mail verification (the link read from Django's outbox) → the owner adds a webhook
endpoint and invites a member → the member accepts and creates a priced project → edits its
settings (labels, priority) → uploads a CSV → annotators complete the tasks (through the work API)
→ the endpoint receives a signed ``task.completed`` for each → staff see the day's throughput on
/ops/trends/.

Deliveries are made by a real Celery worker process (``celery_worker_process``) on the test
database. The test plays beat's webhook dispatcher (``core.tasks.dispatch_due_deliveries``) in
its own process, as beat does every 5 s: a wake-up a task publishes from inside that worker goes
to the shared queues, not to the worker's private ones (tests/e2e/conftest.py). Every wait is on a
condition, with a generous bound against hangs.
"""

from __future__ import annotations

import json
import re

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect
from rest_framework.test import APIClient
from standardwebhooks import Webhook

from annotation import services as annotation_services
from annotation.models import Project, Task
from clients import services as client_services
from clients.models import Membership
from core import tasks as client_tasks
from core.models import WebhookEndpoint
from tests.browser.conftest import LAPTOP, login, make_staff, screenshot
from tests.clients.receiver import Receiver
from tests.e2e.conftest import celery_worker_process, wait_until  # noqa: F401 - a fixture

pytestmark = pytest.mark.celery_worker

OWNER, MEMBER = "founder@newco.test", "colleague@newco.test"
OWNER_PASSWORD, MEMBER_PASSWORD = "journey-owner-pass-2026!", "journey-member-pass-2026!"
LABELS = ["helpful", "unhelpful", "harmful", "off-topic"]
ROWS = 3
HANG_GUARD = 120.0  # seconds: a worker on two shared cores; only a hang takes this long


@pytest.fixture(autouse=True)
def loopback(settings):
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = True  # the endpoint is a receiver on 127.0.0.1
    settings.QUORUM_SIGNUP_ENABLED = True
    # The wake-ups for the deliveries are published from inside the worker, to the shared queues
    # (module docstring): each delivery reaches the endpoint through the dispatcher's relay, which
    # sends a row's wake-up again once the last one is this old (60 s in production: the test waited
    # a minute for it). Duplicates are harmless, and the test checks there are none: one request
    # per task.
    settings.QUORUM_WEBHOOK_REDISPATCH_SECONDS = 2


def _link(pattern: str) -> str:
    match = re.search(rf"https?://[^/\s]+({pattern})", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def _annotator(email: str) -> APIClient:
    user = client_services.user_create(email=email)
    annotation_services.annotator_create(user=user, active=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {client_services.access_token_create(user=user).key}")
    return api


def _complete_every_task(annotators: list[APIClient]) -> int:
    """Annotators ask for work and answer until none is left; returns how many answers they gave."""
    answers = 0
    idle = [False] * len(annotators)
    while not all(idle):
        for n, api in enumerate(annotators):
            response = api.post("/api/v1/work/next", {}, format="json")
            assert response.status_code == 200, response.content
            assignment = response.json()["assignment"]
            idle[n] = assignment is None
            if assignment is None:
                continue
            assert assignment["task"]["params"]["categories"] == LABELS  # the edited labels
            response = api.post(
                f"/api/v1/work/assignments/{assignment['id']}/submit",
                {"claim_version": assignment["claim_version"], "answer": {"category": "off-topic"}},
                format="json",
            )
            assert response.status_code == 200, response.content
            answers += 1
        assert answers <= ROWS, "more answers accepted than one per task"
    return answers


def test_a_new_team_runs_a_project_from_sign_up_to_the_ops_chart(
    page,
    browser,
    live_server,
    tmp_path,
    celery_worker_process,  # noqa: F811
):
    # Sign-up, and the e-mailed verification link
    page.goto("/login/")
    page.get_by_role("link", name="Create an account for your organisation").click()
    page.get_by_label("Organisation").fill("Newco Research")
    page.get_by_label("Email").fill(OWNER)
    page.get_by_label("Password", exact=True).fill(OWNER_PASSWORD)
    page.get_by_label("Password again").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text(f"We have sent a link to {OWNER}")).to_be_visible()
    assert mail.outbox[-1].to == [OWNER]
    page.goto(_link(r"/signup/verify/\S+/"))
    expect(page.locator(".messages")).to_contain_text("Your e-mail is confirmed")
    expect(page).to_have_url(re.compile(r"/portal/$"))

    with Receiver() as receiver:
        # The owner subscribes an endpoint to task.completed
        page.get_by_role("link", name="Webhooks").click()
        page.get_by_label("URL").fill(receiver.url + "quorum")
        page.get_by_label("task.completed", exact=False).first.check()
        page.get_by_role("button", name="Add endpoint").click()
        expect(page.locator(".messages")).to_contain_text("added")
        endpoint = WebhookEndpoint.objects.get(client__name="Newco Research")
        assert endpoint.events == ["task.completed"]

        # ... and invites a member, who accepts in their own browser
        page.get_by_role("link", name="Team").click()
        page.get_by_label("Email", exact=True).fill(MEMBER)
        page.get_by_label("Role", exact=True).select_option("member")
        page.get_by_role("button", name="Send invitation").click()
        expect(page.locator(".messages")).to_contain_text(f"Invitation sent to {MEMBER} (member).")
        accept = _link(r"/invitations/\S+/")
        member_context = browser.new_context(base_url=live_server.url, viewport=LAPTOP)
        member_context.set_default_timeout(20_000)
        member = member_context.new_page()
        member.output_dir = page.output_dir  # screenshots beside the owner's
        member.goto(accept)
        member.get_by_label("Password", exact=True).fill(MEMBER_PASSWORD)
        member.get_by_label("Password again").fill(MEMBER_PASSWORD)
        member.get_by_role("button", name="Set the password and join").click()
        expect(member.locator(".messages")).to_contain_text("Welcome to Newco Research: you are member.")
        assert Membership.objects.get(user__email=MEMBER).role == "member"

        # The member creates a priced project: one answer per task, 0.50 per task, 0.20 per answer
        member.get_by_role("link", name="New project").click()
        member.get_by_label("Answer quality categories").check()
        member.get_by_label("Name", exact=True).fill("Chat answers")
        member.get_by_label("Answers per task (optional)").fill("1")
        member.get_by_label("Price per task (optional)").fill("0.50")
        member.get_by_label("Pay per answer (optional)").fill("0.20")
        member.get_by_role("button", name="Create project").click()
        expect(member.get_by_role("heading", level=1)).to_have_text("Upload tasks to Chat answers")
        project = Project.objects.get(name="Chat answers")
        assert (project.price_per_task, project.pay_per_answer, project.overlap) == (50, 20, 1)

        # ... edits its settings: one more label and a higher priority
        member.goto(f"/portal/projects/{project.id}/settings/")
        member.get_by_label("Labels and params (JSON)").fill(json.dumps({"categories": LABELS}))
        member.get_by_label("Priority").fill("10")
        member.get_by_role("button", name="Save settings").click()
        expect(member.locator(".messages")).to_contain_text(
            "New tasks take answers per task, labels and params"
        )
        expect(member.locator("#settings-history")).to_contain_text(MEMBER)
        screenshot(member, "settings")

        # ... and uploads three tasks
        upload = tmp_path / "answers.csv"
        upload.write_text(
            "unique_id,attachment,attachment_type\n"
            + "".join(f"answer-{i},Is answer {i} helpful?,text\n" for i in range(ROWS))
        )
        member.goto(f"/portal/projects/{project.id}/upload/")
        member.get_by_label("Task file (CSV or JSON Lines)").set_input_files(str(upload))
        member.get_by_role("button", name="Upload").click()
        expect(member.locator(".messages")).to_contain_text(f"{ROWS} tasks created from answers.csv")
        member_context.close()

        # Annotators complete every task through the work API
        assert (
            _complete_every_task([_annotator("ann-a@quorum.test"), _annotator("ann-b@quorum.test")]) == ROWS
        )
        assert Task.objects.filter(project=project, status="completed").count() == ROWS

        # The endpoint receives one signed task.completed per task (the test plays beat's dispatcher)
        def all_delivered() -> bool:
            client_tasks.dispatch_due_deliveries()
            return receiver.wait_for(ROWS, timeout=1.0)

        assert wait_until(all_delivered, timeout=HANG_GUARD, interval=0.5), celery_worker_process.log()[
            -3000:
        ]
        events = [Webhook(endpoint.secret).verify(r.body, r.headers) for r in receiver.requests]
        assert {e["type"] for e in events} == {"task.completed"}
        done = Task.objects.filter(project=project).values_list("pk", flat=True)
        assert sorted(e["data"]["task_id"] for e in events) == sorted(str(pk) for pk in done)
        assert all(r.path == "/quorum" for r in receiver.requests)

    # Staff see the day's throughput on the trends chart
    make_staff("ops@quorum.test")
    page.context.clear_cookies()  # the owner signs out; staff sign in
    login(page, "ops@quorum.test")
    page.goto("/ops/trends/")
    today = timezone.now().date()
    throughput = page.locator("#trend-throughput")
    expect(throughput).to_be_visible()
    expect(throughput.locator("text").filter(has_text=re.compile(rf"^{ROWS}$"))).to_have_count(1)
    row = page.locator("#trend-table tr", has_text=f"{today:%Y-%m-%d}")
    expect(row.locator("td").nth(1)).to_have_text(str(ROWS))
    expect(row.locator("td").nth(3)).to_have_text("1.50 USD")
    screenshot(page, "ops-trends")
