"""The admin console: every list page renders with its filters and search, and the actions call
the services (refusals shown, nothing changed)."""

from __future__ import annotations

import pytest
from django.contrib import admin

from annotation.models import Project
from billing import selectors as billing_selectors
from billing import services as billing_services
from billing.models import LedgerTransaction
from clients import services as client_services
from tests.annotation.factories import ProjectFactory
from tests.web.factories import NoPasswordUserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_pages(pages):
    return pages(NoPasswordUserFactory(is_staff=True, is_superuser=True))


def text(response) -> str:
    return response.content.decode()


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
def test_every_admin_list_renders_with_its_search(admin_pages, model, client_a):
    opts = model._meta
    response = admin_pages.get(
        f"/admin/{opts.app_label}/{opts.model_name}/",
        {"q": "acme"} if admin.site._registry[model].search_fields else {},
    )
    assert response.status_code == 200


def test_project_actions_pause_and_resume_through_the_service(admin_pages, client_a):
    project = ProjectFactory(client=client_a)
    url = "/admin/annotation/project/"
    admin_pages.post(url, {"action": "set_paused", "_selected_action": [str(project.pk)]}, follow=True)
    project.refresh_from_db()
    assert project.status == Project.Status.PAUSED
    again = admin_pages.post(
        url, {"action": "set_paused", "_selected_action": [str(project.pk)]}, follow=True
    )
    assert 'class="error"' in text(again)
    admin_pages.post(url, {"action": "set_active", "_selected_action": [str(project.pk)]}, follow=True)
    project.refresh_from_db()
    assert project.status == Project.Status.ACTIVE


def test_revoking_keys_in_the_admin_reports_the_already_revoked(admin_pages, client_a):
    key = client_services.api_key_create(client=client_a, name="ci").obj
    url = "/admin/clients/apikey/"
    admin_pages.post(url, {"action": "revoke", "_selected_action": [str(key.pk)]}, follow=True)
    key.refresh_from_db()
    assert key.revoked_at is not None
    again = admin_pages.post(url, {"action": "revoke", "_selected_action": [str(key.pk)]}, follow=True)
    assert "This API key is already revoked." in text(again)


def test_a_top_up_is_recorded_once_even_if_the_form_is_sent_twice(admin_pages, client_a):
    form = {"client": client_a.pk, "amount": 2500, "reference": "wire 42", "key": "form-1"}
    first = admin_pages.post("/admin/billing/clientcredit/topup/", form)
    second = admin_pages.post("/admin/billing/clientcredit/topup/", form)
    assert first.status_code == second.status_code == 302
    assert billing_selectors.client_balance(client=client_a)["funds"] == 2500
    assert LedgerTransaction.objects.filter(kind="topup", client=client_a).count() == 1


def test_a_bad_top_up_is_refused_on_the_form(admin_pages, client_a):
    response = admin_pages.post(
        "/admin/billing/clientcredit/topup/",
        {"client": client_a.pk, "amount": 0, "reference": "x", "key": "k"},
    )
    assert response.status_code == 200 and "errorlist" in text(response)
    assert not LedgerTransaction.objects.exists()


def test_run_payouts_from_the_list(admin_pages, client_a, settings):
    worker = NoPasswordUserFactory()
    billing_services.answer_pay(
        submission_id="s1",
        user_id=worker.pk,
        client=client_a,
        amount=10_000,
        work=billing_services.Work(
            task_id=None, project_id=None, project_name="p", task_type="categorization"
        ),
    )
    assert admin_pages.get("/admin/billing/payout/run/").status_code == 405
    response = admin_pages.post("/admin/billing/payout/run/", follow=True)
    assert "1 payout(s) made." in text(response)
    assert billing_selectors.payable_balance(user_id=worker.pk, currency="USD") == 0


# --- the workforce (issue 3's services) --------------------------------------------------------------


def test_vetting_asks_for_a_reason_then_calls_the_service(admin_pages):
    from annotation.models import Annotator
    from core.models import Event
    from tests.annotation.factories import AnnotatorFactory

    applicant = AnnotatorFactory(status=Annotator.Status.APPLICANT, user=NoPasswordUserFactory())
    url = "/admin/annotation/annotator/"
    asked = admin_pages.post(url, {"action": "vet_or_restore", "_selected_action": [str(applicant.pk)]})
    assert asked.status_code == 200 and 'name="reason"' in text(asked)
    applicant.refresh_from_db()
    assert applicant.status == "applicant"
    refused = admin_pages.post(
        url, {"action": "vet_or_restore", "_selected_action": [str(applicant.pk)], "apply": "1", "reason": ""}
    )
    assert "This field is required." in text(refused)
    done = admin_pages.post(
        url,
        {
            "action": "vet_or_restore",
            "_selected_action": [str(applicant.pk)],
            "apply": "1",
            "reason": "ID and sample work checked",
        },
        follow=True,
    )
    assert "1 done." in text(done)
    applicant.refresh_from_db()
    assert applicant.status == "active"
    assert (
        Event.objects.get(entity_id=applicant.pk, kind="annotator.status_changed").after["reason"]
        == "ID and sample work checked"
    )
    again = admin_pages.post(
        url,
        {
            "action": "vet_or_restore",
            "_selected_action": [str(applicant.pk)],
            "apply": "1",
            "reason": "twice",
        },
        follow=True,
    )
    assert "An annotator who is active cannot become active." in text(again)


def test_suspending_releases_the_annotators_leases(admin_pages, client_a):
    from datetime import timedelta

    from django.utils import timezone

    from annotation.models import Assignment
    from tests.annotation.factories import AnnotatorFactory, TaskFactory

    annotator = AnnotatorFactory(user=NoPasswordUserFactory())
    task = TaskFactory(project=ProjectFactory(client=client_a), slots_taken=1, claim_seq=1)
    lease = Assignment.objects.create(
        task=task,
        annotator=annotator,
        project=task.project,
        claim_version=1,
        leased_until=timezone.now() + timedelta(minutes=10),
    )
    admin_pages.post(
        "/admin/annotation/annotator/",
        {
            "action": "suspend",
            "_selected_action": [str(annotator.pk)],
            "apply": "1",
            "reason": "copy-pasted answers",
        },
    )
    annotator.refresh_from_db()
    lease.refresh_from_db()
    assert annotator.status == "suspended" and lease.status == Assignment.Status.RELEASED


def test_staff_grant_a_qualification_from_the_admin(admin_pages):
    from annotation import services as annotation_services
    from annotation.models import AnnotatorQualification
    from tests.annotation.factories import AnnotatorFactory

    qualification = annotation_services.qualification_create(
        client=None,
        actor=None,
        name="Traffic lights",
        task_type="categorization",
        params={"categories": ["red", "green"]},
        questions=[
            {
                "params": {"attachment": "Which light?", "attachment_type": "text"},
                "gold_answer": {"category": "red"},
            }
        ],
    )
    annotator = AnnotatorFactory(user=NoPasswordUserFactory())
    admin_pages.post(
        "/admin/annotation/annotator/",
        {
            "action": "grant_qualification",
            "_selected_action": [str(annotator.pk)],
            "apply": "1",
            "reason": "passed the paper test",
            "qualification": qualification.pk,
        },
    )
    held = AnnotatorQualification.objects.get(annotator=annotator, qualification=qualification)
    assert held.source == "staff" and held.revoked_at is None
