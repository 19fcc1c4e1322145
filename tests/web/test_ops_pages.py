"""Operator pages: staff only; the dashboards show the reports' figures; invoices are generated,
issued, paid and voided through the services, with readable refusals."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Assignment
from billing import invoices, services
from billing.models import Invoice
from tests.annotation.factories import AnnotatorFactory, ProjectFactory, TaskFactory
from tests.billing.clock import ledger_at, utc
from tests.web.factories import NoPasswordUserFactory

pytestmark = pytest.mark.django_db
BOXES = services.Work(
    task_id=None, project_id=uuid.UUID(int=1), project_name="Lidar boxes", task_type="imageannotation"
)


def text(response) -> str:
    return response.content.decode()


@pytest.mark.parametrize("who", ["member", "annotator"])
def test_ops_pages_are_for_staff_only(member_pages, annotator_pages, client_a, who):
    browser = member_pages(client_a, "owner") if who == "member" else annotator_pages
    for url in ["/ops/", "/ops/invoices/"]:
        response = browser.get(url)
        assert response.status_code == 403 and "This page is for Quorum staff." in text(response)


def test_the_dashboard_shows_revenue_concentration_margin_queue_leases_and_pay(
    staff_pages, client_a, client_b
):
    with ledger_at(utc(2025, 3, 3)):
        services.charge_task_completion(client=client_a, task_id="a1", amount=3000, work=BOXES)
        services.charge_task_completion(client=client_b, task_id="b1", amount=1000, work=BOXES)
        services.answer_pay(
            submission_id="s1",
            user_id=NoPasswordUserFactory(email="worker@example.test").pk,
            client=client_a,
            amount=500,
            work=BOXES,
        )
    project = ProjectFactory(client=client_a, name="Queue project", overlap=2)
    TaskFactory.create_batch(3, project=project)
    task = TaskFactory(project=project, slots_taken=1)
    Assignment.objects.create(
        task=task,
        annotator=AnnotatorFactory(),
        project=project,
        claim_version=1,
        leased_until=timezone.now() + timedelta(minutes=3),
    )
    body = text(staff_pages.get("/ops/?from=2025-01&to=2025-06&currency=USD"))
    assert "40.00 USD" in body  # revenue
    assert "75.00%" in body and "Acme Autonomy" in body  # top share
    assert "<dd>6250</dd>" in body  # HHI: 75² + 25²
    assert "35.00 USD" in body  # margin: 40.00 - 5.00 pay
    assert "Queue project" in body and '<td class="num">4</td>' in body  # servable tasks
    assert "<dt>Expire ≤ 5 min</dt><dd>1</dd>" in body
    assert "worker@example.test" in body


def test_a_bad_period_is_explained_and_the_queue_still_shows(staff_pages):
    response = staff_pages.get("/ops/?from=2025-13&to=2025-01")
    assert response.status_code == 400
    assert 'role="alert"' in text(response) and "Queue depth" in text(response)


def test_staff_generate_then_issue_an_invoice(staff_pages, client_a):
    with ledger_at(utc(2025, 1, 5, 9)):
        services.charge_task_completion(client=client_a, task_id="t1", amount=1234, work=BOXES)
    assert staff_pages.post("/ops/invoices/", {"client": client_a.id, "period": "2025-01"}).status_code == 302
    invoice = Invoice.objects.get(client=client_a)
    assert invoice.status == "draft" and invoice.total == 1234
    assert staff_pages.post(f"/ops/invoices/{invoice.id}/issue").status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == "issued"
    again = staff_pages.post(f"/ops/invoices/{invoice.id}/issue", follow=True)
    assert 'class="error"' in text(again) and "issued" in text(again)
    invoice.refresh_from_db()
    assert invoice.status == "issued"


def test_a_bad_month_is_refused_on_the_form(staff_pages, client_a):
    response = staff_pages.post("/ops/invoices/", {"client": client_a.id, "period": "January"})
    body = text(response)
    assert response.status_code == 400 and body.count("Expected a month as YYYY-MM") == 1
    assert "period:" not in body  # the API's field prefix is not shown on the page
    assert not Invoice.objects.exists()


def test_an_unknown_invoice_action_or_invoice_is_not_found(staff_pages, client_a):
    invoice = invoices.invoice_generate(client=client_a, period_start=invoices.month_start("2025-01"))
    assert staff_pages.post(f"/ops/invoices/{invoice.id}/delete").status_code == 404
    assert staff_pages.post(f"/ops/invoices/{uuid.uuid4()}/issue").status_code == 404
