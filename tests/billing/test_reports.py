"""Reports equal a hand-computed fixture: revenue by client, the largest share, the HHI, margin,
annotator pay, and the fair-pay flag (annotation side, which joins pay with active time)."""

import uuid
from datetime import date, timedelta
from fractions import Fraction

import factory
import pytest

from annotation import reports as annotation_reports
from annotation.models import Assignment, Submission
from billing import reports, services
from clients import services as client_services
from core.errors import ValidationFailed
from tests.annotation.factories import AnnotatorFactory, TaskFactory
from tests.billing.clock import ledger_at, utc
from tests.clients.factories import ClientFactory, UserFactory
from tests.conftest import api_for_key

pytestmark = pytest.mark.django_db

WORK = services.Work(
    task_id=None, project_id=uuid.UUID(int=7), project_name="Signs", task_type="categorization"
)
FEB, MAR = date(2025, 2, 1), date(2025, 3, 1)


def charge(client, task_id, amount, when):
    with ledger_at(when):
        services.charge_task_completion(client=client, task_id=task_id, amount=amount, work=WORK)


def pay(client, submission_id, user, amount, when, gold=False):
    with ledger_at(when):
        services.answer_pay(
            submission_id=submission_id,
            user_id=user.pk,
            client=client,
            amount=amount,
            work=WORK,
            platform_cost=gold,
        )


@pytest.fixture
def book():
    """Hand-built ledger, USD cents (E is an EUR client: never in a USD report).

    February 2025: A charged 1000; u2 paid 700 (labor).
        revenue 1000, labor 700, platform 0, margin 300 -> 3000 bp.
    March 2025: A charged 4000 + 2000, refunded 1000 -> 5000; B charged 3000; C charged 2000;
        u1 paid 2500 + 500 + 300 (labor), the 300 taken back (rejected) -> 3000;
        u2 paid 1200 (labor) + 500 (gold: platform cost) -> 1700;
        revenue 10000, labor 2500 + 500 + 1200 = 4200, platform 500, margin 5300 -> 5300 bp.
        Shares 50 / 30 / 20 % -> HHI 2500 + 900 + 400 = 3800; top share A, 5000 bp (1/2).
    April 2025 (outside every period below): A charged 9999.
    February + March: A 6000, B 3000, C 2000 of 11000 -> shares 6/11, 3/11, 2/11;
        HHI = 10000 * (36 + 9 + 4) / 121 = 490000/121 ~ 4049.59 -> 4050;
        top 6/11 = 60000/11 ~ 5454.55 bp -> 5455.
    """
    a, b, c = ClientFactory(name="Alpha"), ClientFactory(name="Bravo"), ClientFactory(name="Charlie")
    e = ClientFactory(name="Euro", currency="EUR")
    u1, u2 = UserFactory(), UserFactory()
    charge(a, "f1", 1000, utc(2025, 2, 10))
    pay(a, "fs1", u2, 700, utc(2025, 2, 10))
    charge(a, "a1", 4000, utc(2025, 3, 1, 0, 0, 0))
    charge(a, "a2", 2000, utc(2025, 3, 31, 23, 59, 59))
    with ledger_at(utc(2025, 3, 20)):
        services.task_refund(client=a, task_id="a1", amount=1000, reason="redo", key="r1")
    charge(b, "b1", 3000, utc(2025, 3, 5))
    charge(c, "c1", 2000, utc(2025, 3, 6))
    charge(e, "e1", 50000, utc(2025, 3, 6))
    pay(a, "s1", u1, 2500, utc(2025, 3, 7))
    pay(a, "s2", u1, 500, utc(2025, 3, 8))
    pay(c, "s5", u1, 300, utc(2025, 3, 9))
    with ledger_at(utc(2025, 3, 10)):
        services.answer_unpay(submission_id="s5")
    pay(b, "s3", u2, 1200, utc(2025, 3, 11))
    pay(c, "s4", u2, 500, utc(2025, 3, 12), gold=True)
    charge(a, "x1", 9999, utc(2025, 4, 1, 0, 0, 0))
    return {"a": a, "b": b, "c": c, "u1": u1, "u2": u2}


def period(first, last):
    return reports.period_parse(first=first, last=last)


def test_revenue_per_client_per_month(book):
    rows = reports.revenue_by_client_month(period=period("2025-02", "2025-03"), currency="USD")
    assert [(r["month"], r["client_name"], r["charges"], r["refunds"], r["revenue"]) for r in rows] == [
        ("2025-02", "Alpha", 1000, 0, 1000),
        ("2025-03", "Alpha", 6000, 1000, 5000),
        ("2025-03", "Bravo", 3000, 0, 3000),
        ("2025-03", "Charlie", 2000, 0, 2000),
    ]


def test_concentration_of_one_month_is_50_30_20(book):
    report = reports.concentration(period=period("2025-03", "2025-03"), currency="USD")
    assert (report["revenue"], report["hhi"], report["hhi_rounded"]) == (10000, "3800", 3800)
    assert (report["top_client_id"], report["top_share"], report["top_share_bp"]) == (
        book["a"].pk,
        "1/2",
        5000,
    )
    assert [(r["client_name"], r["revenue"], r["share"], r["share_bp"]) for r in report["clients"]] == [
        ("Alpha", 5000, "1/2", 5000),
        ("Bravo", 3000, "3/10", 3000),
        ("Charlie", 2000, "1/5", 2000),
    ]


def test_concentration_over_two_months_is_exact(book):
    report = reports.concentration(period=period("2025-02", "2025-03"), currency="USD")
    assert (report["revenue"], report["hhi"], report["hhi_rounded"]) == (11000, "490000/121", 4050)
    assert (report["top_share"], report["top_share_bp"]) == ("6/11", 5455)


@pytest.mark.parametrize(
    ("revenues", "expected"),
    [
        ([50, 30, 20], Fraction(3800)),
        ([1], Fraction(10000)),
        ([1, 1, 1, 1], Fraction(2500)),
        ([], Fraction(0)),
        ([2, 1], Fraction(50000, 9)),  # (200/3)^2 + (100/3)^2 = 40000/9 + 10000/9
    ],
)
def test_hhi(revenues, expected):
    assert reports.hhi(revenues) == expected


def test_margin_per_month(book):
    rows = reports.margin_by_month(period=period("2025-01", "2025-03"), currency="USD")
    assert rows == [
        {
            "month": "2025-02",
            "revenue": 1000,
            "labor_cost": 700,
            "platform_cost": 0,
            "margin": 300,
            "margin_bp": 3000,
        },
        {
            "month": "2025-03",
            "revenue": 10000,
            "labor_cost": 4200,
            "platform_cost": 500,
            "margin": 5300,
            "margin_bp": 5300,
        },
    ]


def test_annotator_pay_per_period(book):
    march = reports.annotator_pay(period=period("2025-03", "2025-03"), currency="USD")
    assert march == {book["u1"].pk: {"pay": 3000, "answers": 3}, book["u2"].pk: {"pay": 1700, "answers": 2}}


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        ("2025-03", "2025-02", "to"),
        ("2025-3", "2025-04", "from"),
        ("2025-03", "2025-04-01", "to"),
        (None, "2025-04", "from"),
        ("2015-01", "2025-04", "from"),
    ],
)
def test_bad_periods_are_clear_errors(first, last, field):
    with pytest.raises(ValidationFailed) as err:
        reports.period_parse(first=first, last=last)
    assert (err.value.code, err.value.details) == ("invalid_period", {"field": field})


# --- fair pay ------------------------------------------------------------------------------------


class SubmissionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Submission

    task = factory.SubFactory(TaskFactory)
    annotator = factory.SubFactory(AnnotatorFactory)
    assignment = factory.LazyAttribute(
        lambda o: Assignment.objects.create(
            task=o.task,
            annotator=o.annotator,
            project=o.task.project,
            status="submitted",
            claim_version=1,
            leased_until=o.created_at + timedelta(minutes=15),
            claimed_at=o.created_at,
        )
    )
    answer = factory.LazyFunction(lambda: {"category": "car"})
    duration_ms = 60_000
    created_at = factory.LazyFunction(lambda: utc(2025, 3, 15))


def test_fair_pay_flags_annotators_below_the_floor(book, settings):
    """Floor 1500 c/h. u1 earned 3000 over 3 h of submissions -> 1000 c/h: flagged. u2 earned 1700
    over 1 h -> 1700 c/h: not flagged. u3 earned nothing over 30 min -> 0 c/h: flagged. Time spent
    in February does not count in March."""
    settings.QUORUM_FAIR_PAY_FLOOR_PER_HOUR = 1500
    a1, a2, a3 = (AnnotatorFactory(user=book["u1"]), AnnotatorFactory(user=book["u2"]), AnnotatorFactory())
    for _ in range(3):
        SubmissionFactory(annotator=a1, duration_ms=3_600_000)
    SubmissionFactory(annotator=a2, duration_ms=1_200_000)
    SubmissionFactory(annotator=a2, duration_ms=2_400_000, status="rejected")
    SubmissionFactory(annotator=a2, duration_ms=9_000_000, created_at=utc(2025, 2, 28, 23, 59, 59))
    SubmissionFactory(annotator=a3, duration_ms=1_800_000)
    report = annotation_reports.annotator_hourly_pay(period=period("2025-03", "2025-03"), currency="USD")
    got = {
        row["user_id"]: (row["pay"], row["active_ms"], row["per_hour"], row["below_floor"])
        for row in report["rows"]
    }
    assert got == {
        book["u1"].pk: (3000, 10_800_000, 1000, True),
        book["u2"].pk: (1700, 3_600_000, 1700, False),
        a3.user_id: (0, 1_800_000, 0, True),
    }
    assert (report["floor_per_hour"], report["flagged"]) == (1500, 2)


def test_pay_exactly_at_the_floor_is_not_flagged(book):
    u2 = AnnotatorFactory(user=book["u2"])
    SubmissionFactory(annotator=u2, duration_ms=3_600_000)
    row = annotation_reports.annotator_hourly_pay(
        period=period("2025-03", "2025-03"), currency="USD", floor=1700
    )["rows"]
    assert [(r["per_hour"], r["below_floor"]) for r in row if r["user_id"] == book["u2"].pk] == [
        (1700, False)
    ]
    row = annotation_reports.annotator_hourly_pay(
        period=period("2025-03", "2025-03"), currency="USD", floor=1701
    )["rows"]
    assert [(r["per_hour"], r["below_floor"]) for r in row if r["user_id"] == book["u2"].pk] == [(1700, True)]


# --- API -----------------------------------------------------------------------------------------


@pytest.fixture
def staff_api(db):
    return api_for_key(client_services.access_token_create(user=UserFactory(is_staff=True)).key)


def test_staff_report_endpoints(staff_api, book):
    revenue = staff_api.get("/api/v1/staff/reports/revenue?from=2025-03&to=2025-03")
    assert revenue.status_code == 200, revenue.content
    assert [r["revenue"] for r in revenue.json()["rows"]] == [5000, 3000, 2000]
    conc = staff_api.get("/api/v1/staff/reports/concentration?from=2025-03&to=2025-03&currency=USD").json()
    assert (conc["hhi"], conc["hhi_rounded"], conc["top_share_bp"], conc["top_client_name"]) == (
        "3800",
        3800,
        5000,
        "Alpha",
    )
    margin = staff_api.get("/api/v1/staff/reports/margin?from=2025-03&to=2025-03").json()
    assert [(r["margin"], r["margin_bp"]) for r in margin["rows"]] == [(5300, 5300)]
    fair = staff_api.get("/api/v1/staff/reports/annotator-pay?from=2025-03&to=2025-03")
    assert fair.status_code == 200 and {r["pay"] for r in fair.json()["rows"]} == {3000, 1700}
    euro = staff_api.get("/api/v1/staff/reports/concentration?from=2025-03&to=2025-03&currency=EUR").json()
    assert (euro["revenue"], euro["hhi"]) == (50000, "10000")


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?from=2025-03",
        "?from=2025-03&to=2025-02",
        "?from=x&to=y",
        "?from=2025-03&to=2025-03&currency=usd",
    ],
)
@pytest.mark.parametrize("name", ["revenue", "concentration", "margin", "annotator-pay"])
def test_bad_report_queries_are_400(staff_api, name, query):
    response = staff_api.get(f"/api/v1/staff/reports/{name}{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("invalid_period", "invalid_currency")


@pytest.mark.parametrize("name", ["revenue", "concentration", "margin", "annotator-pay"])
def test_reports_are_staff_only(api_a, name):
    response = api_a.get(f"/api/v1/staff/reports/{name}?from=2025-03&to=2025-03")
    assert response.status_code == 403 and response.json()["error"]["code"] == "staff_only"


def test_admin_reports_page_is_staff_only_and_shows_the_figures(client, book):
    assert (
        client.get("/admin/billing/invoice/reports/?from=2025-03&to=2025-03").status_code == 302
    )  # to the login page
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get("/admin/billing/invoice/reports/?from=2025-03&to=2025-03").content.decode()
    assert "Herfindahl–Hirschman index: 3800" in page and "5000 bp" in page and "<td>5300</td>" in page
    bad = client.get("/admin/billing/invoice/reports/?from=2025-03&to=2025-01").content.decode()
    assert "to: must not be before from" in bad
