"""Staff in Chromium: the operator dashboard, and issuing a monthly invoice."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from billing import services
from billing.models import Invoice
from tests.billing.clock import ledger_at, utc
from tests.browser.conftest import TABLET, login, make_staff, screenshot
from tests.clients.factories import ClientFactory

BOXES = services.Work(
    task_id=None, project_id=uuid.UUID(int=1), project_name="Lidar boxes", task_type="imageannotation"
)


def test_staff_issue_an_invoice(page):
    client = ClientFactory(name="Acme Autonomy", slug="acme")
    with ledger_at(utc(2025, 1, 5, 9)):
        services.charge_task_completion(client=client, task_id="t1", amount=1234, work=BOXES)
    make_staff("ops@quorum.test")
    login(page, "ops@quorum.test")
    expect(page).to_have_url(re.compile(r"/ops/$"))
    expect(page.get_by_role("heading", name="Queue depth")).to_be_visible()
    screenshot(page, "dashboard")

    page.get_by_role("link", name="Invoices").click()
    page.get_by_label("Client").select_option(label="Acme Autonomy")
    page.get_by_label("Month (YYYY-MM)").fill("2025-01")
    page.get_by_role("button", name="Generate draft").click()
    invoice = Invoice.objects.get(client=client)
    row = page.locator(f"#invoice-{invoice.number}")
    expect(row).to_contain_text("12.34 USD")
    expect(row).to_contain_text("draft")
    row.get_by_role("button", name=f"Issue invoice {invoice.number}").click()
    expect(page.locator(".messages")).to_contain_text(f"Invoice {invoice.number} issued.")
    expect(page.locator(f"#invoice-{invoice.number}")).to_contain_text("issued")
    page.set_viewport_size(TABLET)
    screenshot(page, "issued-tablet")
    invoice.refresh_from_db()
    assert invoice.status == "issued"


def test_a_client_member_is_refused_the_ops_pages(page):
    from tests.browser.conftest import make_member

    make_member(email="pm@acme.test")
    login(page, "pm@acme.test")
    response = page.goto("/ops/")
    assert response.status == 403
    expect(page.get_by_role("alert")).to_contain_text("This page is for Quorum staff.")
    screenshot(page, "refused")
