"""Prices everywhere: a default rate card per task type (seeded by a migration), projects without
a price take it, and the platform refuses prices that pay annotators more than the client is
charged, or keep less than ``QUORUM_MIN_MARGIN`` percent, on the API, the services and the pages."""

from __future__ import annotations

import pytest
from django.utils import timezone

from annotation import services
from annotation.models import Project, Task, TaskType
from billing import selectors as billing_selectors
from billing import services as billing
from billing.models import RateCard
from core.errors import ValidationFailed
from tests.annotation.test_api import assert_error

pytestmark = pytest.mark.django_db


def test_every_task_type_has_a_default_rate_card_that_keeps_a_margin(client_a):
    for task_type in TaskType.values:
        card = RateCard.objects.get(task_type=task_type, currency="USD", client__isnull=True)
        assert card.created_by == "migration:billing.0006"
        assert 0 < card.pay_per_answer < card.price_per_task


def test_a_project_created_without_a_price_takes_the_rate_card(api_a, client_a):
    created = api_a.post(
        "/api/v1/projects",
        {"name": "Carded", "task_type": "categorization", "params": {"categories": ["a", "b"]}},
        format="json",
    )
    assert created.status_code == 201, created.content
    project = Project.objects.get(pk=created.json()["id"])
    assert (project.price_per_task, project.pay_per_answer) == (None, None)
    response = api_a.post(
        "/api/v1/tasks/bulk",
        {"project": str(project.pk), "tasks": [{"params": {"attachment": "x"}}]},
        format="json",
    )
    assert response.status_code in (200, 201), response.content
    task = Task.objects.get(project=project)
    assert (task.price, task.pay) == (15, 3)  # the seeded categorization card


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {"price_per_task": 10, "pay_per_answer": 4, "overlap": 3},
            "price_below_pay",
            "price_per_task: the price must cover the annotators' pay (price per task 10, pay per answer 4 "
            "× 3 answers = 12)",
        ),
        (
            {"price_per_task": 30, "pay_per_answer": 5, "overlap": 2, "max_overlap": 7},
            "price_below_pay",
            "× 7 answers = 35",
        ),
        (
            {"pay_per_answer": 20},
            "price_below_pay",
            "price per task 15, pay per answer 20 × 1 answer = 20 (the rate card's price)",
        ),
        ({"price_per_task": 0, "pay_per_answer": 1}, "price_below_pay", "price per task 0"),
    ],
)
def test_a_price_that_does_not_cover_the_pay_is_refused_and_nothing_is_created(api_a, body, code, message):
    response = api_a.post(
        "/api/v1/projects", {"name": "Loss", "task_type": "categorization", **body}, format="json"
    )
    assert_error(response, 400, code)
    assert message in response.json()["error"]["message"]
    assert not Project.objects.filter(name="Loss").exists()


def test_a_margin_below_the_platform_minimum_is_refused(api_a, settings):
    settings.QUORUM_MIN_MARGIN = 30
    body = {
        "name": "Thin",
        "task_type": "categorization",
        "price_per_task": 100,
        "pay_per_answer": 25,
        "overlap": 3,
    }
    response = api_a.post("/api/v1/projects", body, format="json")
    assert_error(response, 400, "margin_below_minimum")
    assert response.json()["error"]["message"].startswith(
        "price_per_task: the margin would be 25%, below the platform's minimum of 30%"
    )
    assert not Project.objects.filter(name="Thin").exists()
    settings.QUORUM_MIN_MARGIN = 25
    assert api_a.post("/api/v1/projects", body, format="json").status_code == 201


def test_raising_the_overlap_past_the_margin_is_refused_and_changes_nothing(api_a, client_a):
    project = services.project_create(
        client=client_a,
        actor=None,
        name="P",
        task_type="categorization",
        price_per_task=40,
        pay_per_answer=10,
    )
    response = api_a.patch(f"/api/v1/projects/{project.pk}", {"overlap": 5}, format="json")
    assert_error(response, 400, "price_below_pay")
    project.refresh_from_db()
    assert (project.overlap, project.max_overlap) == (1, 1)
    assert api_a.patch(f"/api/v1/projects/{project.pk}", {"overlap": 4}, format="json").status_code == 200


def test_a_rate_card_that_pays_more_than_it_charges_is_refused(client_a):
    before = RateCard.objects.count()
    with pytest.raises(ValidationFailed) as refused:
        billing.rate_card_set(task_type="categorization", currency="USD", price_per_task=5, pay_per_answer=6)
    assert refused.value.code == "price_below_pay"
    assert RateCard.objects.count() == before


def test_the_margin_is_computed_without_floats():
    margin = billing.Margin(price=40, pay=12, answers=3)
    assert (margin.cost, margin.kept, margin.percent) == (36, 4, 10)
    assert billing.Margin(price=0, pay=0, answers=3).percent is None
    assert billing.margin_check(price=0, pay=0, answers=5).kept == 0  # free work passes


# -- the portal's new-project form ---------------------------------------------------------------------


def test_the_new_project_form_shows_each_templates_price_pay_and_margin(member_pages, client_a):
    from annotation.web.domain_templates import TEMPLATES

    page = member_pages(client_a, "member").get("/portal/projects/new/").content.decode()
    for template in TEMPLATES:
        rate = billing_selectors.rate_for(client=client_a, task_type=template.task_type, at=timezone.now())
        kept = rate.price_per_task - rate.pay_per_answer * template.overlap
        assert f'data-template="{template.key}"' in page
        assert f"{kept * 100 // rate.price_per_task}% margin" in page
    assert "Price per task (optional)" in page and "Pay per answer (optional)" in page


def test_the_new_project_form_refuses_a_losing_price_readably(member_pages, client_a):
    from annotation.web.domain_templates import TEMPLATES

    template = TEMPLATES[0]
    response = member_pages(client_a, "member").post(
        "/portal/projects/new/",
        {
            "template": template.key,
            "name": "Cheap",
            "overlap": "3",
            "price_per_task": "0.10",
            "pay_per_answer": "0.05",
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "The price must cover the annotators&#x27; pay" in body
    assert "price_per_task:" not in body
    assert not Project.objects.filter(name="Cheap").exists()


def test_a_project_from_a_portal_template_takes_the_rate_card(member_pages, client_a):
    from annotation.web.domain_templates import TEMPLATES

    template = TEMPLATES[0]
    response = member_pages(client_a, "member").post(
        "/portal/projects/new/", {"template": template.key, "name": "From template"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    project = Project.objects.get(name="From template")
    prices, source = services.project_prices(
        client=client_a, task_type=project.task_type, price_per_task=None, pay_per_answer=None, answers=1
    )
    assert prices.price > 0 and source == " (the rate card's price and pay)"
