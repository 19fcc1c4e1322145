"""The money endpoints: Idempotency-Key semantics (T14), staff-only routes, annotator payouts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from billing import services as billing
from billing.models import ClientCredit, IdempotencyRecord, LedgerTransaction, Payout
from clients import services as client_services
from tests.clients.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_api():
    api = APIClient()
    api.force_authenticate(user=UserFactory(is_staff=True))
    return api


def _topup(api, client, key, amount=1000, reference="wire"):
    extra = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return api.post(
        f"/api/v1/staff/clients/{client.id}/topups",
        {"amount": amount, "reference": reference},
        format="json",
        **extra,
    )


def _error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code and body["error"]["message"], body


def test_a_money_endpoint_without_a_key_is_refused_and_moves_nothing(staff_api):
    client = ClientFactory()
    _error(_topup(staff_api, client, None), 400, "idempotency_key_required")
    _error(_topup(staff_api, client, "x" * 256), 400, "invalid_idempotency_key")
    assert not LedgerTransaction.objects.exists()


def test_same_key_same_body_replays_and_different_body_is_422(staff_api):
    client = ClientFactory()
    first = _topup(staff_api, client, "k-1")
    again = _topup(staff_api, client, "k-1")
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    _error(_topup(staff_api, client, "k-1", amount=999), 422, "idempotency_key_reused")
    assert LedgerTransaction.objects.filter(kind="topup").count() == 1
    assert ClientCredit.objects.get(client=client).received == 1000


def test_keys_are_scoped_per_caller_and_expire(staff_api, settings):
    client = ClientFactory()
    other_staff = APIClient()
    other_staff.force_authenticate(user=UserFactory(is_staff=True))
    assert _topup(staff_api, client, "shared").status_code == 200
    theirs = _topup(other_staff, client, "shared")  # another caller's identical key: its own operation
    assert theirs.status_code == 200 and "Idempotent-Replayed" not in theirs
    assert LedgerTransaction.objects.filter(kind="topup").count() == 2

    IdempotencyRecord.objects.update(
        created_at=timezone.now() - timedelta(hours=settings.QUORUM_IDEMPOTENCY_TTL_HOURS + 1)
    )
    renewed = _topup(staff_api, client, "shared")  # older than the TTL: a new operation
    assert renewed.status_code == 200 and "Idempotent-Replayed" not in renewed
    assert LedgerTransaction.objects.filter(kind="topup").count() == 3


def test_a_failed_request_stores_nothing_so_its_retry_runs(staff_api):
    client = ClientFactory()
    _error(_topup(staff_api, client, "k", amount=0), 400, "validation_error")
    assert not IdempotencyRecord.objects.exists()
    assert _topup(staff_api, client, "k").status_code == 200


def test_bad_amounts_and_unknown_clients_are_clear_errors(staff_api):
    client = ClientFactory()
    for amount in (-5, "ten", 10**13):
        response = _topup(staff_api, client, f"bad-{amount}", amount=amount)
        assert response.status_code == 400 and response.json()["error"]["message"], response.content
    unknown = staff_api.post(
        "/api/v1/staff/clients/00000000-0000-0000-0000-000000000000/topups",
        {"amount": 5},
        format="json",
        HTTP_IDEMPOTENCY_KEY="u",
    )
    _error(unknown, 404, "not_found")
    assert not LedgerTransaction.objects.exists()


def _staff_routes() -> list[str]:
    routes = []
    for pattern in get_resolver().url_patterns:
        if str(pattern.pattern) != "api/v1/":
            continue
        for sub in pattern.url_patterns:
            if str(sub.pattern).startswith("staff/"):
                prefix = str(sub.pattern)[len("staff/") :]
                routes += [prefix + str(p.pattern) for p in getattr(sub, "url_patterns", [sub])]
    return routes


def test_every_staff_route_refuses_client_keys_members_and_annotators(api_a, client_a):
    client = ClientFactory()
    annotator_token = client_services.access_token_create(user=UserFactory(), name="t").key
    annotator = APIClient()
    annotator.credentials(HTTP_AUTHORIZATION=f"Bearer {annotator_token}")
    routes = _staff_routes()
    assert len(routes) >= 4
    for route in routes:
        url = (
            ("/api/v1/staff/" + route)
            .replace("<uuid:client_id>", str(client.id))
            .replace("<uuid:invoice_id>", str(client.id))
        )
        for caller in (api_a, annotator):
            response = caller.post(url, {"amount": 5}, format="json")  # no key: who may call is checked first
            if response.status_code == 405:
                response = caller.get(url)
            _error(response, 403, response.json()["error"]["code"])
    assert not LedgerTransaction.objects.exists()


def test_an_annotator_pays_out_their_payable_with_a_personal_token(settings):
    settings.QUORUM_PAYOUT_MINIMUM = 100
    user = UserFactory()
    work = billing.Work(task_id="t", project_id=None, project_name="", task_type="categorization")
    billing.answer_pay(submission_id="s", user_id=user.pk, client=ClientFactory(), amount=750, work=work)
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=f"Bearer {client_services.access_token_create(user=user, name='w').key}"
    )

    assert api.get("/api/v1/billing/earnings").json() == {"currency": "USD", "payable": 750}
    paid = api.post("/api/v1/billing/payouts", {"amount": 500}, format="json", HTTP_IDEMPOTENCY_KEY="p1")
    assert paid.status_code == 200 and paid.json()["amount"] == 500
    _error(
        api.post("/api/v1/billing/payouts", {"amount": 500}, format="json", HTTP_IDEMPOTENCY_KEY="p2"),
        409,
        "insufficient_balance",
    )
    _error(
        api.post("/api/v1/billing/payouts", {"amount": 50}, format="json", HTTP_IDEMPOTENCY_KEY="p3"),
        400,
        "below_payout_minimum",
    )
    assert [p["amount"] for p in api.get("/api/v1/billing/payouts").json()] == [500]
    assert Payout.objects.count() == 1


def test_a_client_key_cannot_ask_for_a_payout(api_a):
    _error(
        api_a.post("/api/v1/billing/payouts", {}, format="json", HTTP_IDEMPOTENCY_KEY="p"),
        403,
        "annotator_only",
    )
    _error(api_a.post("/api/v1/billing/payouts", {}, format="json"), 403, "annotator_only")


def test_staff_download_the_payouts_of_a_period_as_csv_for_the_payment_provider(staff_api, settings):
    import csv
    import io

    settings.QUORUM_PAYOUT_MINIMUM = 1
    user = UserFactory(email="ann@example.test")
    work = billing.Work(task_id="t", project_id=None, project_name="", task_type="categorization")
    billing.answer_pay(submission_id="s", user_id=user.pk, client=ClientFactory(), amount=12_345, work=work)
    payout = billing.payout_create(user_id=user.pk, currency="USD", amount=12_340, key="k")
    today = timezone.now().date()
    response = staff_api.get(f"/api/v1/staff/payouts.csv?from={today}&to={today + timedelta(days=1)}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [
        (r["payout_id"], r["payee_email"], r["amount_minor"], r["amount"], r["currency"]) for r in rows
    ] == [(str(payout.pk), "ann@example.test", "12340", "123.40", "USD")]
    empty = staff_api.get(
        f"/api/v1/staff/payouts.csv?from={today + timedelta(days=1)}&to={today + timedelta(days=2)}"
    )
    assert len(list(csv.DictReader(io.StringIO(empty.content.decode())))) == 0
    _error(staff_api.get("/api/v1/staff/payouts.csv?from=2026-13-01&to=2027-01-01"), 400, "invalid_period")
    _error(staff_api.get(f"/api/v1/staff/payouts.csv?from={today}&to={today}"), 400, "invalid_period")
