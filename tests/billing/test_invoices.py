"""Invoices: totals equal the ledger, lines by project and task type, months in UTC, the state
machine, funds at issue, CSV/HTML, tenant isolation, staff-only and idempotent endpoints."""

import threading
import uuid
from datetime import date, timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from billing import invoices, services, tasks
from billing.models import Account, IdempotencyRecord, Invoice, LedgerEntry, LedgerTransaction, Payout
from clients import services as client_services
from core.errors import Conflict, ValidationFailed
from core.models import Event
from tests.billing.clock import ledger_at, utc
from tests.clients.factories import ClientFactory, UserFactory
from tests.conftest import api_for_key

pytestmark = pytest.mark.django_db

P1, P2 = uuid.UUID(int=1), uuid.UUID(int=2)
BOXES = services.Work(task_id=None, project_id=P1, project_name="Lidar boxes", task_type="imageannotation")
SIGNS = services.Work(task_id=None, project_id=P1, project_name="Lidar boxes", task_type="categorization")
RANKS = services.Work(task_id=None, project_id=P2, project_name="Chat ranking", task_type="ranking")
JAN = date(2025, 1, 1)


def charge(client, task_id, amount, work, when):
    with ledger_at(when):
        services.charge_task_completion(client=client, task_id=task_id, amount=amount, work=work)


def refund(client, task_id, amount, when):
    with ledger_at(when):
        services.task_refund(
            client=client,
            task_id=task_id,
            amount=amount,
            reason="bad labels",
            key=f"refund:{task_id}:{amount}",
        )


@pytest.fixture
def january(client_a, client_b):
    """Client A, hand-built through the services (amounts in cents):

    Dec 31 23:59:59  t0 Chat ranking / ranking            400   -> December
    Jan  5           t1 Lidar boxes / imageannotation    1000
    Jan 10           t3 Lidar boxes / categorization      250
    Jan 15           refund of t0 (ranking)              -400   -> a January refund of a December charge
    Jan 20           t4 Chat ranking / ranking            400
    Jan 25           refund of t1 (imageannotation)      -300
    Jan 31 23:59:59  t2 Lidar boxes / imageannotation    1000   -> still January
    Feb  1 00:00:00  t5 Chat ranking / ranking            400   -> February
    plus client B's January charge (700) and an annotator's pay (not on any invoice).

    January: charges 1000 + 1000 + 250 + 400 = 2650, refunds 400 + 300 = 700, total 1950.
    """
    charge(client_a, "t0", 400, RANKS, utc(2024, 12, 31, 23, 59, 59))
    charge(client_a, "t1", 1000, BOXES, utc(2025, 1, 5, 9))
    charge(client_a, "t3", 250, SIGNS, utc(2025, 1, 10, 9))
    refund(client_a, "t0", 400, utc(2025, 1, 15, 9))
    charge(client_a, "t4", 400, RANKS, utc(2025, 1, 20, 9))
    refund(client_a, "t1", 300, utc(2025, 1, 25, 9))
    charge(client_a, "t2", 1000, BOXES, utc(2025, 1, 31, 23, 59, 59))
    charge(client_a, "t5", 400, RANKS, utc(2025, 2, 1, 0, 0, 0))
    charge(client_b, "b1", 700, RANKS, utc(2025, 1, 12))
    with ledger_at(utc(2025, 1, 12)):
        services.answer_pay(
            submission_id="s1", user_id=UserFactory().pk, client=client_a, amount=80, work=BOXES
        )
    return client_a


def ledger_receivable(client, start, end) -> int:
    """The ledger's own figure: charges and refunds on the client's receivable in [start, end)."""
    return LedgerEntry.objects.filter(
        account__kind=Account.Kind.CLIENT_RECEIVABLE,
        account__client=client,
        transaction__kind__in=["task_charge", "refund"],
        transaction__created_at__gte=start,
        transaction__created_at__lt=end,
    ).aggregate(total=Sum("amount"))["total"]


def lines_of(invoice):
    return [
        (ln.project_name, ln.task_type, ln.kind, ln.quantity, ln.amount)
        for ln in invoice.lines.order_by("id")
    ]


JANUARY_LINES = [
    ("Chat ranking", "ranking", "charge", 1, 400),
    ("Chat ranking", "ranking", "refund", 1, -400),
    ("Lidar boxes", "categorization", "charge", 1, 250),
    ("Lidar boxes", "imageannotation", "charge", 2, 2000),
    ("Lidar boxes", "imageannotation", "refund", 1, -300),
]


def test_invoice_totals_equal_the_ledger_with_lines_by_project_and_task_type(january):
    invoice = invoices.invoice_generate(client=january, period_start=JAN, actor="test")
    assert (invoice.subtotal, invoice.refunds, invoice.total) == (2650, 700, 1950)
    assert invoice.total == ledger_receivable(january, utc(2025, 1, 1), utc(2025, 2, 1))
    assert lines_of(invoice) == JANUARY_LINES
    assert (invoice.status, invoice.currency, invoice.period_end) == ("draft", "USD", date(2025, 2, 1))
    assert invoice.number == "Q-202501-0001"


@pytest.mark.parametrize(
    ("month", "total", "lines"),
    [
        (date(2024, 12, 1), 400, [("Chat ranking", "ranking", "charge", 1, 400)]),
        (date(2025, 2, 1), 400, [("Chat ranking", "ranking", "charge", 1, 400)]),
        (date(2025, 3, 1), 0, []),
    ],
    ids=["23:59:59 on Dec 31 is December", "00:00 on Feb 1 is February", "empty month"],
)
def test_month_boundaries_are_utc(january, month, total, lines):
    invoice = invoices.invoice_generate(client=january, period_start=month)
    assert (invoice.total, lines_of(invoice)) == (total, lines)
    assert invoice.total == (
        ledger_receivable(
            january, invoices.utc_midnight(month), invoices.utc_midnight(invoices.next_month(month))
        )
        or 0
    )


def test_numbers_are_per_month_and_unique(january, client_b):
    a = invoices.invoice_generate(client=january, period_start=JAN)
    b = invoices.invoice_generate(client=client_b, period_start=JAN)
    feb = invoices.invoice_generate(client=january, period_start=date(2025, 2, 1))
    assert (a.number, b.number, feb.number) == ("Q-202501-0001", "Q-202501-0002", "Q-202502-0001")
    assert (b.total, lines_of(b)) == (700, [("Chat ranking", "ranking", "charge", 1, 700)])


def test_regenerating_a_draft_replaces_its_lines_and_keeps_its_identity(january):
    first = invoices.invoice_generate(client=january, period_start=JAN)
    again = invoices.invoice_generate(client=january, period_start=JAN)
    assert (again.pk, again.number, lines_of(again)) == (first.pk, first.number, JANUARY_LINES)
    charge(january, "t6", 250, SIGNS, utc(2025, 1, 28))  # a late posting in the month
    rebuilt = invoices.invoice_generate(client=january, period_start=JAN)
    assert (rebuilt.pk, rebuilt.total) == (first.pk, 2200)
    assert ("Lidar boxes", "categorization", "charge", 2, 500) in lines_of(rebuilt)
    assert Invoice.objects.count() == 1
    kinds = list(Event.objects.filter(entity_id=first.pk).order_by("id").values_list("kind", flat=True))
    assert kinds == ["invoice.generated", "invoice.regenerated", "invoice.regenerated"]


def test_an_issued_invoice_is_never_changed_by_generation(january):
    invoice = invoices.invoice_generate(client=january, period_start=JAN)
    invoices.invoice_issue(invoice_id=invoice.pk)
    charge(january, "t7", 999, BOXES, utc(2025, 1, 29))
    again = invoices.invoice_generate(client=january, period_start=JAN)
    assert (again.pk, again.status, again.total, lines_of(again)) == (
        invoice.pk,
        "issued",
        1950,
        JANUARY_LINES,
    )


@pytest.mark.parametrize("bad", [date(2025, 1, 2), "2025-13", "January"])
def test_a_bad_period_is_refused(client_a, bad):
    with pytest.raises(ValidationFailed) as err:
        invoices.invoice_generate(client=client_a, period_start=bad)
    assert err.value.code == "invalid_period"
    assert Invoice.objects.count() == 0


def funds(client) -> int:
    return -Account.objects.get(kind=Account.Kind.CLIENT_FUNDS, client=client).balance


def receivable(client) -> int:
    return LedgerEntry.objects.filter(
        account__kind=Account.Kind.CLIENT_RECEIVABLE, account__client=client
    ).aggregate(total=Sum("amount"))["total"]


def test_issue_applies_funds_then_pay_records_the_rest(january):
    services.topup_record(client=january, amount=1200, reference="wire 1", key="topup-1")
    owed = receivable(january)  # 2350: December 400 + January 1950 + February 400 - nothing paid
    invoice = invoices.invoice_generate(client=january, period_start=JAN)
    invoice = invoices.invoice_issue(invoice_id=invoice.pk, actor="staff")
    assert invoice.status == "issued" and invoice.issued_at is not None
    assert invoices.invoice_settlement(invoice) == {"funds_applied": 1200, "payment": 0, "amount_due": 750}
    assert (funds(january), receivable(january)) == (0, owed - 1200)
    invoice = invoices.invoice_mark_paid(invoice_id=invoice.pk, reference="wire 2")
    assert invoice.status == "paid" and invoice.paid_at is not None
    assert invoices.invoice_settlement(invoice) == {"funds_applied": 1200, "payment": 750, "amount_due": 0}
    assert receivable(january) == owed - 1950
    assert LedgerTransaction.objects.get(idempotency_key=f"invoice:{invoice.pk}:payment").kind == "payment"
    kinds = list(Event.objects.filter(entity_id=invoice.pk).order_by("id").values_list("kind", flat=True))
    assert kinds == ["invoice.generated", "invoice.issued", "invoice.paid"]


def test_void_of_an_issued_invoice_gives_the_funds_back_and_frees_the_month(january):
    services.topup_record(client=january, amount=5000, reference="wire", key="topup-2")
    owed = receivable(january)
    invoice = invoices.invoice_issue(
        invoice_id=invoices.invoice_generate(client=january, period_start=JAN).pk
    )
    assert funds(january) == 5000 - 1950
    voided = invoices.invoice_void(invoice_id=invoice.pk, reason="wrong address")
    assert (voided.status, funds(january), receivable(january)) == ("void", 5000, owed)
    assert invoices.invoice_settlement(voided)["funds_applied"] == 0
    replacement = invoices.invoice_generate(client=january, period_start=JAN)
    assert (replacement.pk != voided.pk, replacement.number, replacement.total) == (
        True,
        "Q-202501-0002",
        1950,
    )


ILLEGAL = [
    ("draft", "pay"),
    ("issued", "issue"),
    ("paid", "issue"),
    ("paid", "pay"),
    ("paid", "void"),
    ("void", "issue"),
    ("void", "pay"),
    ("void", "void"),
]


@pytest.mark.parametrize(("state", "action"), ILLEGAL, ids=[f"{s}-{a}" for s, a in ILLEGAL])
def test_illegal_transitions_are_refused_and_change_nothing(january, state, action):
    services.topup_record(client=january, amount=100, reference="wire", key="topup-3")
    invoice = invoices.invoice_generate(client=january, period_start=JAN)
    steps = {"draft": [], "issued": ["issue"], "paid": ["issue", "pay"], "void": ["void"]}[state]
    run = {"issue": invoices.invoice_issue, "pay": invoices.invoice_mark_paid, "void": invoices.invoice_void}
    for step in steps:
        run[step](invoice_id=invoice.pk)
    before = (
        Invoice.objects.get(pk=invoice.pk).status,
        LedgerTransaction.objects.count(),
        Event.objects.count(),
        funds(january),
    )
    with pytest.raises(Conflict) as err:
        run[action](invoice_id=invoice.pk)
    assert err.value.code == "invoice_status"
    assert invoice.number in err.value.message and state in err.value.message
    after = (
        Invoice.objects.get(pk=invoice.pk).status,
        LedgerTransaction.objects.count(),
        Event.objects.count(),
        funds(january),
    )
    assert after == before


def test_a_month_that_has_not_ended_cannot_be_issued(client_a):
    services.charge_task_completion(client=client_a, task_id="now-1", amount=100, work=BOXES)
    invoice = invoices.invoice_generate(client=client_a, period_start=timezone.now().date().replace(day=1))
    with pytest.raises(Conflict) as err:
        invoices.invoice_issue(invoice_id=invoice.pk)
    assert err.value.code == "invoice_period_open"
    assert Invoice.objects.get(pk=invoice.pk).status == "draft"


def test_monthly_task_invoices_last_month_for_active_clients_and_is_idempotent(client_a, client_b):
    last_month = invoices.previous_month(timezone.now().date())
    charge(client_a, "m1", 300, BOXES, invoices.utc_midnight(last_month.replace(day=15)))
    ClientFactory()  # no activity: no invoice
    assert tasks.generate_monthly_invoices() == 1
    first = list(Invoice.objects.values_list("pk", "client_id", "number", "total"))
    assert tasks.generate_monthly_invoices() == 1
    assert list(Invoice.objects.values_list("pk", "client_id", "number", "total")) == first
    assert [(c, t) for _, c, _, t in first] == [(client_a.pk, 300)]


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (195000, "USD", "1,950.00 USD"),
        (1950, "USD", "19.50 USD"),
        (-5, "USD", "-0.05 USD"),
        (0, "EUR", "0.00 EUR"),
        (123456789, "JPY", "123,456,789 JPY"),
        (1, "KWD", "0.001 KWD"),
    ],
)
def test_money_format_uses_the_currency_exponent(amount, currency, text):
    assert invoices.money_format(amount, currency) == text


# --- API ---------------------------------------------------------------------------------------------


@pytest.fixture
def staff_api(db):
    user = UserFactory(is_staff=True)
    return api_for_key(client_services.access_token_create(user=user).key)


@pytest.fixture
def jan_invoice(january):
    return invoices.invoice_generate(client=january, period_start=JAN)


def test_client_reads_its_invoice_as_json_csv_and_html(api_a, jan_invoice):
    listing = api_a.get("/api/v1/billing/invoices")
    assert listing.status_code == 200
    assert [row["number"] for row in listing.json()["results"]] == ["Q-202501-0001"]
    detail = api_a.get(f"/api/v1/billing/invoices/{jan_invoice.pk}")
    assert detail.status_code == 200
    body = detail.json()
    assert (body["subtotal"], body["refunds"], body["total"], body["amount_due"]) == (2650, 700, 1950, 0)
    assert [
        (ln["project_name"], ln["task_type"], ln["kind"], ln["quantity"], ln["amount"])
        for ln in body["lines"]
    ] == JANUARY_LINES
    csv_response = api_a.get(f"/api/v1/billing/invoices/{jan_invoice.pk}/csv")
    assert csv_response.status_code == 200 and csv_response["Content-Type"].startswith("text/csv")
    rows = csv_response.content.decode().splitlines()
    assert rows[0].startswith("invoice,period_start")
    assert (
        rows[4] == f"Q-202501-0001,2025-01-01,2025-02-01,USD,{P1},Lidar boxes,imageannotation,charge,2,2000"
    )
    assert rows[-1].endswith(",total,,1950")
    html = api_a.get(f"/api/v1/billing/invoices/{jan_invoice.pk}/html")
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    page = html.content.decode()
    assert "Q-202501-0001" in page and "19.50 USD" in page and "26.50 USD" in page and "-7.00 USD" in page


@pytest.mark.parametrize("suffix", ["", "/csv", "/html"])
def test_another_client_gets_404_for_the_invoice(api_b, jan_invoice, suffix):
    response = api_b.get(f"/api/v1/billing/invoices/{jan_invoice.pk}{suffix}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert api_b.get("/api/v1/billing/invoices").json()["results"] == []


STAFF_POSTS = [
    "/api/v1/staff/clients/{client}/invoices",
    "/api/v1/staff/invoices/{invoice}/issue",
    "/api/v1/staff/invoices/{invoice}/pay",
    "/api/v1/staff/invoices/{invoice}/void",
]


@pytest.mark.parametrize("url", STAFF_POSTS)
def test_staff_endpoints_refuse_client_keys(api_a, jan_invoice, url):
    response = api_a.post(
        url.format(client=jan_invoice.client_id, invoice=jan_invoice.pk),
        {"period": "2025-01"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "staff_only"
    assert Invoice.objects.get(pk=jan_invoice.pk).status == "draft"
    assert not LedgerTransaction.objects.filter(idempotency_key__startswith="invoice:").exists()


def test_staff_generates_on_demand(staff_api, january):
    url = f"/api/v1/staff/clients/{january.pk}/invoices"
    response = staff_api.post(url, {"period": "2025-01"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["number"], response.json()["total"]) == ("Q-202501-0001", 1950)
    assert staff_api.post(url, {"period": "2025-01"}, format="json").json()["id"] == response.json()["id"]
    for bad in ["2025-13", "Jan", ""]:
        refused = staff_api.post(url, {"period": bad}, format="json")
        assert refused.status_code == 400 and "period" in refused.json()["error"]["message"]
    assert Invoice.objects.count() == 1


def test_issue_and_pay_are_idempotent_by_key(staff_api, jan_invoice):
    services.topup_record(client=jan_invoice.client, amount=1000, reference="wire", key="topup-4")
    issue_url = f"/api/v1/staff/invoices/{jan_invoice.pk}/issue"
    first = staff_api.post(issue_url, HTTP_IDEMPOTENCY_KEY="issue-1")
    replay = staff_api.post(issue_url, HTTP_IDEMPOTENCY_KEY="issue-1")
    assert first.status_code == replay.status_code == 200
    assert replay.content == first.content and replay["Idempotent-Replayed"] == "true"
    assert (first.json()["status"], first.json()["funds_applied"], first.json()["amount_due"]) == (
        "issued",
        1000,
        950,
    )
    assert LedgerTransaction.objects.filter(kind="funds_applied").count() == 1
    assert staff_api.post(issue_url).status_code == 400  # a money endpoint needs the header
    pay_url = f"/api/v1/staff/invoices/{jan_invoice.pk}/pay"
    paid = staff_api.post(pay_url, {"reference": "wire 77"}, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    again = staff_api.post(pay_url, {"reference": "wire 77"}, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    assert paid.status_code == 200 and again.content == paid.content
    assert (paid.json()["status"], paid.json()["payment"]) == ("paid", 950)
    assert LedgerTransaction.objects.filter(kind="payment").count() == 1
    other_key = staff_api.post(pay_url, {"reference": "wire 77"}, format="json", HTTP_IDEMPOTENCY_KEY="pay-2")
    assert other_key.status_code == 409 and other_key.json()["error"]["code"] == "invoice_status"
    assert LedgerTransaction.objects.filter(kind="payment").count() == 1


def test_staff_void_through_the_api(staff_api, jan_invoice):
    response = staff_api.post(
        f"/api/v1/staff/invoices/{jan_invoice.pk}/void",
        {"reason": "duplicate"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="void-1",
    )
    assert response.status_code == 200 and response.json()["status"] == "void"
    missing = staff_api.post(
        f"/api/v1/staff/invoices/{uuid.uuid4()}/void", {}, format="json", HTTP_IDEMPOTENCY_KEY="void-2"
    )
    assert missing.status_code == 404


# --- admin -------------------------------------------------------------------------------------------


def test_admin_actions_call_the_services(client, jan_invoice):
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    url = "/admin/billing/invoice/"
    response = client.post(
        url, {"action": "mark_paid", "_selected_action": [str(jan_invoice.pk)]}, follow=True
    )
    assert "only issued invoices can be marked paid" in response.content.decode()
    assert Invoice.objects.get(pk=jan_invoice.pk).status == "draft"
    client.post(url, {"action": "issue", "_selected_action": [str(jan_invoice.pk)]}, follow=True)
    assert Invoice.objects.get(pk=jan_invoice.pk).status == "issued"
    assert Event.objects.filter(
        entity_id=jan_invoice.pk, kind="invoice.issued", actor=f"user:{admin_user.pk}"
    ).exists()
    page = client.get(url)
    assert page.status_code == 200 and "Revenue reports" in page.content.decode()


# --- concurrency and the other beat jobs -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_generation_makes_one_invoice(client_a):
    """Eight connections generate the same client's month at once: the (client, month) advisory
    lock makes them take turns, so there is one invoice, not a unique-constraint error."""
    charge(client_a, "c-1", 500, BOXES, utc(2025, 1, 9))
    barrier = threading.Barrier(8)
    numbers, errors = [], []

    def worker():
        try:
            barrier.wait()
            numbers.append(invoices.invoice_generate(client=client_a, period_start=JAN).number)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert numbers == ["Q-202501-0001"] * 8
    assert list(Invoice.objects.values_list("number", "total")) == [("Q-202501-0001", 500)]


def test_run_payouts_twice_pays_once(client_a, settings):
    settings.QUORUM_PAYOUT_MINIMUM = 1000
    user = UserFactory()
    services.answer_pay(submission_id="p-1", user_id=user.pk, client=client_a, amount=1500, work=BOXES)
    assert tasks.run_payouts() == 1
    assert tasks.run_payouts() == 0
    assert list(Payout.objects.values_list("user_id", "amount")) == [(user.pk, 1500)]


def test_prune_idempotency_keys_twice(settings):
    settings.QUORUM_IDEMPOTENCY_TTL_HOURS = 24
    old = timezone.now() - timedelta(hours=25)
    IdempotencyRecord.objects.create(
        scope="user:x", key="old", fingerprint="f", status_code=200, body="{}", created_at=old
    )
    IdempotencyRecord.objects.create(scope="user:x", key="new", fingerprint="f", status_code=200, body="{}")
    assert (tasks.prune_idempotency_keys(), tasks.prune_idempotency_keys()) == (1, 0)
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
