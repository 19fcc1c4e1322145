"""Portal pages for API keys, webhooks, invoices and usage: owners and admins only, keys shown
once, refusals readable and harmless, another tenant's objects answer 404."""

from __future__ import annotations

import uuid

import pytest

from billing import invoices, services
from billing.models import Invoice
from clients import services as client_services
from clients.models import ApiKey
from core.models import Event, WebhookEndpoint
from tests.billing.clock import ledger_at, utc
from tests.clients.test_webhooks import WebhookEndpointFactory

pytestmark = pytest.mark.django_db
PUBLIC_HOOK = "https://93.184.215.14/hooks/quorum"  # an IP literal: checked without DNS
BOXES = services.Work(
    task_id=None, project_id=uuid.UUID(int=1), project_name="Lidar boxes", task_type="imageannotation"
)


def text(response) -> str:
    return response.content.decode()


@pytest.mark.parametrize("role", ["member", "viewer"])
@pytest.mark.parametrize("url", ["/portal/api-keys/", "/portal/webhooks/", "/portal/billing/"])
def test_keys_webhooks_and_billing_need_an_owner_or_admin(member_pages, client_a, role, url):
    response = member_pages(client_a, role).get(url)
    assert response.status_code == 403
    assert f"Your role ({role}) does not allow this" in text(response)


def test_a_new_key_is_shown_once_and_only_its_prefix_after(member_pages, client_a):
    admin = member_pages(client_a, "admin")
    created = admin.post("/portal/api-keys/", {"name": "ingest", "mode": "live"})
    key = ApiKey.objects.get(client=client_a)
    body = text(created)
    assert created.status_code == 200 and "shown only once" in body
    shown = body.split('id="new-key">')[1].split("<")[0]
    assert shown.startswith(f"qk_live_{key.prefix}.")
    again = text(admin.get("/portal/api-keys/"))
    assert key.prefix in again and shown not in again


def test_revoking_a_key_twice_says_it_is_already_revoked(member_pages, client_a):
    key = client_services.api_key_create(client=client_a, name="old").obj
    admin = member_pages(client_a, "owner")
    assert admin.post(f"/portal/api-keys/{key.id}/revoke").status_code == 302
    key.refresh_from_db()
    revoked_at = key.revoked_at
    assert revoked_at is not None
    second = admin.post(f"/portal/api-keys/{key.id}/revoke", follow=True)
    assert "This API key is already revoked." in text(second)
    key.refresh_from_db()
    assert key.revoked_at == revoked_at


def test_another_clients_key_cannot_be_revoked(member_pages, client_a, client_b):
    key = client_services.api_key_create(client=client_b, name="beta key").obj
    response = member_pages(client_a, "owner").post(f"/portal/api-keys/{key.id}/revoke")
    assert response.status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_a_webhook_endpoint_is_added_and_its_delivery_log_shown(member_pages, client_a):
    admin = member_pages(client_a, "admin")
    response = admin.post("/portal/webhooks/", {"url": PUBLIC_HOOK, "events": ["export.ready"]})
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get(client=client_a)
    assert endpoint.events == ["export.ready"] and endpoint.secret.startswith("whsec_")
    assert Event.objects.filter(kind="webhook_endpoint.created", entity_id=endpoint.id).exists()
    from core import webhooks

    webhooks.endpoint_event_enqueue(
        client=client_a, event_type="export.ready", payload={"export_id": "x"}, dedupe_key="exp:x"
    )
    body = text(admin.get(f"/portal/webhooks/?endpoint={endpoint.id}"))
    assert PUBLIC_HOOK in body and "export.ready" in body and "not attempted yet" in body


def test_the_webhook_form_offers_every_deliverable_event_and_refuses_others(member_pages, client_a):
    from core import events

    admin = member_pages(client_a, "admin")
    page = text(admin.get("/portal/webhooks/"))
    for name, about in events.WEBHOOK_EVENTS.items():
        assert f'value="{name}"' in page and about in page
    response = admin.post(
        "/portal/webhooks/", {"url": PUBLIC_HOOK, "events": ["task.completed", "task.nope"]}
    )
    assert response.status_code == 400
    assert "task.nope is not an event you can subscribe to" in text(response)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        (["task.nope"], "events: 'task.nope' is not one of task.completed, task.audited, task.canceled"),
        ("task.completed", "events: must be a list of event names"),
        ([1], "events: must be a list of event names"),
    ],
)
def test_the_endpoint_service_refuses_unknown_events(client_a, wanted, message):
    from core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        client_services.webhook_endpoint_create(client=client_a, url=PUBLIC_HOOK, events_wanted=wanted)
    assert refused.value.code == "invalid_events" and refused.value.message.startswith(message)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:8000/hook", "not a public address"),
        ("ftp://93.184.215.14/x", "http"),
        ("", "This field is required."),
    ],
)
def test_a_refused_webhook_url_is_explained_and_nothing_is_added(
    member_pages, client_a, url, message, settings
):
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = False
    response = member_pages(client_a, "admin").post("/portal/webhooks/", {"url": url})
    assert response.status_code == 400
    assert message in text(response)
    assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_is_disabled_and_enabled_again(member_pages, client_a):
    endpoint = WebhookEndpointFactory(client=client_a, url=PUBLIC_HOOK)
    admin = member_pages(client_a, "admin")
    admin.post(f"/portal/webhooks/{endpoint.id}/enabled", {"enabled": "false"})
    endpoint.refresh_from_db()
    assert endpoint.enabled is False
    admin.post(f"/portal/webhooks/{endpoint.id}/enabled", {"enabled": "true"})
    endpoint.refresh_from_db()
    assert endpoint.enabled is True


def test_another_clients_endpoint_is_not_found(member_pages, client_a, client_b):
    endpoint = WebhookEndpointFactory(client=client_b, url=PUBLIC_HOOK)
    admin = member_pages(client_a, "admin")
    assert admin.post(f"/portal/webhooks/{endpoint.id}/enabled", {"enabled": "false"}).status_code == 404
    assert admin.get(f"/portal/webhooks/?endpoint={endpoint.id}").status_code == 404
    endpoint.refresh_from_db()
    assert endpoint.enabled is True


def test_invoices_and_usage_show_the_clients_own_figures(member_pages, client_a, client_b):
    with ledger_at(utc(2025, 1, 5, 9)):
        services.charge_task_completion(client=client_a, task_id="t1", amount=1234, work=BOXES)
        services.charge_task_completion(client=client_b, task_id="b1", amount=999, work=BOXES)
    services.charge_task_completion(client=client_a, task_id="t2", amount=40, work=BOXES)  # this month: usage
    mine = invoices.invoice_generate(client=client_a, period_start=invoices.month_start("2025-01"))
    theirs = invoices.invoice_generate(client=client_b, period_start=invoices.month_start("2025-01"))
    admin = member_pages(client_a, "owner")
    overview = text(admin.get("/portal/billing/"))
    assert mine.number in overview and theirs.number not in overview
    assert "0.40 USD" in overview  # this month's usage line
    detail = admin.get(f"/portal/billing/invoices/{mine.id}/")
    assert detail.status_code == 200 and "12.34 USD" in text(detail)
    assert admin.get(f"/portal/billing/invoices/{theirs.id}/").status_code == 404


def test_a_person_in_two_clients_chooses_one(pages, client_a, client_b):
    from tests.web.factories import MemberFactory

    membership = MemberFactory(client=client_a, role="viewer")
    MemberFactory(client=client_b, user=membership.user, role="owner")
    browser = pages(membership.user)
    first = browser.get("/portal/")
    assert first.status_code == 302 and first["Location"] == "/portal/client?next=/portal/"
    assert browser.post("/portal/client", {"client": "beta", "next": "/portal/"})["Location"] == "/portal/"
    assert browser.get("/portal/api-keys/").status_code == 200  # acting as Beta's owner
    assert (
        browser.post("/portal/client", {"client": "acme", "next": "https://evil.example/"})["Location"]
        == "/portal/"
    )
    assert browser.get("/portal/api-keys/").status_code == 403  # now Acme's viewer


def test_invoice_rows_do_not_leak_between_clients_in_ops_for_staff_only(member_pages, client_a):
    response = member_pages(client_a, "owner").get("/ops/invoices/")
    assert response.status_code == 403 and "This page is for Quorum staff." in text(response)
    assert Invoice.objects.count() == 0
