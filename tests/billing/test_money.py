"""Posting rules, rate cards, spend limits and payouts, through the services (docs/architecture.md,
"Money")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from annotation import services
from annotation.models import Task
from billing import selectors
from billing import services as billing
from billing.models import Account, ClientCredit, LedgerEntry, LedgerTransaction, Payout, ProjectBudget
from core.errors import Conflict, NotFound, ValidationFailed
from tests.annotation.factories import AnnotatorFactory, ProjectFactory
from tests.clients.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db


def _items(n: int, prefix: str = "t") -> list[dict]:
    return [{"params": {"attachment": f"{prefix}{i}", "attachment_type": "text"}} for i in range(n)]


def _work_one(annotator, project_id=None, answer=None):
    """Claim and submit one task as ``annotator``; return the submission (or None: nothing served)."""
    claim = services.assignment_claim(annotator=annotator, project_id=project_id)
    if claim is None:
        return None
    a = claim.assignment
    return services.assignment_submit(
        annotator=annotator,
        assignment_id=a.pk,
        claim_version=a.claim_version,
        answer=answer or {"category": "car"},
    )


def _balance(kind, **owner) -> int:
    return (
        LedgerEntry.objects.filter(
            account__kind=kind, **{f"account__{k}": v for k, v in owner.items()}
        ).aggregate(t=Sum("amount"))["t"]
        or 0
    )


# --- rate cards ------------------------------------------------------------------------------------


def test_tasks_snapshot_the_rate_card_in_force_and_a_later_version_applies_to_new_tasks_only():
    client = ClientFactory()
    project = ProjectFactory(client=client, price_per_task=None, pay_per_answer=None)
    billing.rate_card_set(
        task_type="categorization", currency="USD", price_per_task=30, pay_per_answer=10
    )  # default
    first = services.task_bulk_create(client=client, actor=None, project=project, items=_items(2, "a"))
    billing.rate_card_set(
        task_type="categorization", currency="USD", price_per_task=40, pay_per_answer=12, client=client
    )
    second = services.task_bulk_create(client=client, actor=None, project=project, items=_items(1, "b"))

    assert {(r.task.price, r.task.pay) for r in first} == {(30, 10)}
    assert (second[0].task.price, second[0].task.pay) == (40, 12)  # the client's own card beats the default
    assert (
        Task.objects.filter(pk__in=[r.task.pk for r in first], price=30, pay=10).count() == 2
    )  # unchanged in the DB


def test_a_card_that_takes_effect_later_is_not_used_yet_and_the_project_override_wins():
    client = ClientFactory()
    billing.rate_card_set(
        task_type="categorization", currency="USD", price_per_task=30, pay_per_answer=10, client=client
    )
    billing.rate_card_set(
        task_type="categorization",
        currency="USD",
        price_per_task=99,
        pay_per_answer=99,
        client=client,
        effective_from=timezone.now() + timedelta(days=1),
    )
    inherits = ProjectFactory(client=client, price_per_task=None, pay_per_answer=None)
    overrides = ProjectFactory(client=client, price_per_task=50, pay_per_answer=None)
    (a,) = services.task_bulk_create(client=client, actor=None, project=inherits, items=_items(1))
    (b,) = services.task_bulk_create(client=client, actor=None, project=overrides, items=_items(1))
    assert (a.task.price, a.task.pay) == (30, 10)
    assert (b.task.price, b.task.pay) == (50, 10)  # the price from the project, the pay from the card


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"price_per_task": -1}, "invalid_amount"),
        ({"pay_per_answer": 1.5}, "invalid_amount"),
        ({"currency": "usd"}, "invalid_currency"),
        ({"currency": "EUR", "client": "client"}, "currency_mismatch"),
    ],
)
def test_bad_rate_cards_are_refused_and_nothing_is_written(kwargs, code):
    client = ClientFactory()
    args = {
        "task_type": "categorization",
        "currency": "USD",
        "price_per_task": 1,
        "pay_per_answer": 1,
        **kwargs,
    }
    if args.get("client") == "client":
        args["client"] = client
    seeded = billing.RateCard.objects.count()  # the default cards (billing migration 0006)
    with pytest.raises(ValidationFailed) as exc:
        billing.rate_card_set(**args)
    assert exc.value.code == code
    assert billing.RateCard.objects.count() == seeded


# --- posting rules from the work ---------------------------------------------------------------------


def test_completion_charges_the_client_and_each_accepted_answer_pays_its_annotator():
    client = ClientFactory()
    project = ProjectFactory(client=client, overlap=2, max_overlap=2, price_per_task=100, pay_per_answer=30)
    services.task_bulk_create(client=client, actor=None, project=project, items=_items(1))
    ann1, ann2 = AnnotatorFactory(), AnnotatorFactory()

    _work_one(ann1)
    assert _balance(Account.Kind.ANNOTATOR_PAYABLE, user=ann1.user) == -30  # paid on acceptance
    assert _balance(Account.Kind.CLIENT_RECEIVABLE, client=client) == 0  # not charged before completion
    _work_one(ann2)

    assert _balance(Account.Kind.CLIENT_RECEIVABLE, client=client) == 100
    assert _balance(Account.Kind.PLATFORM_REVENUE) == -100
    assert _balance(Account.Kind.LABOR_COST) == 60
    assert _balance(Account.Kind.ANNOTATOR_PAYABLE, user=ann2.user) == -30
    charge = LedgerTransaction.objects.get(kind="task_charge")
    assert (charge.project_id, charge.project_name, charge.task_type) == (
        project.id,
        project.name,
        "categorization",
    )
    assert selectors.payable_balance(user_id=ann1.user_id, currency="USD") == 30  # the cached balance agrees


def test_gold_work_is_a_platform_cost_and_test_mode_posts_nothing():
    client = ClientFactory()
    project = ProjectFactory(client=client, price_per_task=100, pay_per_answer=30, gold_ratio=1.0)
    (created,) = services.task_bulk_create(
        client=client,
        actor=None,
        project=project,
        items=[{**_items(1)[0], "gold_answer": {"category": "car"}}],
    )
    assert created.task.is_gold and created.task.price == 0
    _work_one(AnnotatorFactory())
    assert _balance(Account.Kind.PLATFORM_COST) == 30
    assert _balance(Account.Kind.LABOR_COST) == 0
    assert _balance(Account.Kind.PLATFORM_REVENUE) == 0  # gold is never charged

    services.task_bulk_create(
        client=client, actor=None, project=project, items=_items(2, "sandbox"), is_test=True
    )
    before = LedgerTransaction.objects.count()
    for task in Task.objects.filter(is_test=True):
        services.task_simulate_complete(task_id=task.pk)
    assert LedgerTransaction.objects.count() == before


def test_a_rejected_answer_loses_its_pay_once():
    client = ClientFactory()
    project = ProjectFactory(client=client, price_per_task=100, pay_per_answer=30)
    services.task_bulk_create(client=client, actor=None, project=project, items=_items(1))
    annotator = AnnotatorFactory()
    submission = _work_one(annotator)
    billing.answer_unpay(submission_id=submission.pk)
    billing.answer_unpay(submission_id=submission.pk)  # a retry posts nothing more
    assert _balance(Account.Kind.ANNOTATOR_PAYABLE, user=annotator.user) == 0
    assert LedgerTransaction.objects.filter(kind="reversal").count() == 1


# --- money in -----------------------------------------------------------------------------------------


def test_refunds_never_pass_the_charge_and_credit_the_client():
    client = ClientFactory()
    project = ProjectFactory(client=client, price_per_task=100, pay_per_answer=0)
    (created,) = services.task_bulk_create(client=client, actor=None, project=project, items=_items(1))
    _work_one(AnnotatorFactory())
    task_id = created.task.pk

    billing.task_refund(client=client, task_id=task_id, amount=60, reason="Late", key="r1")
    billing.task_refund(
        client=client, task_id=task_id, amount=60, reason="Late", key="r1"
    )  # the same refund, once
    with pytest.raises(ValidationFailed) as exc:
        billing.task_refund(client=client, task_id=task_id, amount=41, reason="More", key="r2")
    assert exc.value.code == "refund_exceeds_charge"
    with pytest.raises(NotFound):
        billing.task_refund(
            client=ClientFactory(), task_id=task_id, amount=1, reason="", key="r3"
        )  # another client's task

    assert _balance(Account.Kind.CLIENT_RECEIVABLE, client=client) == 40
    assert _balance(Account.Kind.PLATFORM_REVENUE) == -40
    assert ClientCredit.objects.get(client=client).received == 60


def test_top_ups_become_funds_that_settle_what_the_client_owes():
    client = ClientFactory()
    billing.topup_record(client=client, amount=500, reference="wire 1", key="t1")
    billing.topup_record(client=client, amount=500, reference="wire 1", key="t1")  # retried: once
    project = ProjectFactory(client=client, price_per_task=200, pay_per_answer=0)
    services.task_bulk_create(client=client, actor=None, project=project, items=_items(1))
    _work_one(AnnotatorFactory())

    billing.funds_apply(client=client, amount=10_000, reference="invoice", key="f1")  # capped at what is owed
    position = selectors.client_balance(client=client)
    assert (position["funds"], position["receivable"]) == (300, 0)
    billing.payment_record(client=client, amount=50, reference="wire 2", key="p1")
    assert selectors.client_balance(client=client)["receivable"] == -50  # paid ahead
    assert Account.objects.get(kind="client_funds", client=client).balance == -300


# --- spend limits ---------------------------------------------------------------------------------------


def test_a_project_budget_stops_serving_before_it_would_be_passed():
    client = ClientFactory()
    project = ProjectFactory(client=client, price_per_task=30, pay_per_answer=0)
    billing.project_budget_set(client=client, project_id=project.id, limit=70)
    services.task_bulk_create(client=client, actor=None, project=project, items=_items(5))
    annotators = [AnnotatorFactory() for _ in range(4)]

    served = [_work_one(a) for a in annotators]
    assert sum(s is not None for s in served) == 2  # 30 + 30 fits in 70, a third would make 90
    assert ProjectBudget.objects.get(project_id=project.id).committed == 60
    assert Task.objects.filter(project=project, spend_reserved=True).count() == 2
    assert (
        Task.objects.filter(project=project, slots_taken=0, status="pending").count() == 3
    )  # the refused claims were undone


def test_a_credit_limit_caps_spend_at_money_received_plus_credit_and_a_top_up_reopens_it():
    client = ClientFactory()
    project = ProjectFactory(client=client, price_per_task=100, pay_per_answer=0)
    billing.credit_limit_set(client=client, credit_limit=100)
    services.task_bulk_create(client=client, actor=None, project=project, items=_items(4))
    annotators = [AnnotatorFactory() for _ in range(4)]
    assert [_work_one(a) is not None for a in annotators[:2]] == [True, False]

    billing.topup_record(client=client, amount=200, reference="wire", key="t")
    assert [_work_one(a) is not None for a in annotators[2:]] == [True, True]
    assert ClientCredit.objects.get(client=client).committed == 300
    assert selectors.client_balance(client=client)["available"] == 0


def test_canceling_a_started_task_gives_its_commitment_back():
    client = ClientFactory()
    project = ProjectFactory(client=client, overlap=2, max_overlap=2, price_per_task=100, pay_per_answer=0)
    billing.project_budget_set(client=client, project_id=project.id, limit=100)
    (created,) = services.task_bulk_create(client=client, actor=None, project=project, items=_items(1))
    services.assignment_claim(annotator=AnnotatorFactory())
    assert ProjectBudget.objects.get(project_id=project.id).committed == 100
    services.task_cancel(client=client, actor=None, task_id=created.task.pk)
    assert ProjectBudget.objects.get(project_id=project.id).committed == 0
    assert ClientCredit.objects.get(client=client).committed == 0


def test_budget_and_price_through_the_project_api(api_a, client_a):
    response = api_a.post(
        "/api/v1/projects",
        {
            "name": "Budgeted",
            "task_type": "categorization",
            "params": {"categories": ["a", "b"]},
            "price_per_task": 10,
            "budget": 25,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    project_id = response.json()["id"]
    assert api_a.get("/api/v1/billing/budgets").json() == [
        {"project_id": project_id, "budget": 25, "committed": 0}
    ]
    bad = api_a.patch(f"/api/v1/projects/{project_id}", {"budget": -5}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"]
    assert ProjectBudget.objects.get(project_id=project_id).limit == 25


# --- payouts --------------------------------------------------------------------------------------------


def _payable(user, amount: int) -> None:
    """Give ``user`` a payable of ``amount`` through the posting rule for accepted answers."""
    client = ClientFactory()
    work = billing.Work(task_id="t", project_id=None, project_name="", task_type="categorization")
    with transaction.atomic():
        billing.answer_pay(
            submission_id=f"seed-{user.pk}", user_id=user.pk, client=client, amount=amount, work=work
        )


def test_payouts_move_payable_to_cash_and_never_overdraw(settings):
    settings.QUORUM_PAYOUT_MINIMUM = 100
    user = UserFactory()
    _payable(user, 1000)

    payout = billing.payout_create(user_id=user.pk, currency="USD", amount=400, key="k1")
    again = billing.payout_create(user_id=user.pk, currency="USD", amount=400, key="k1")
    assert again.pk == payout.pk
    with pytest.raises(Conflict) as over:
        billing.payout_create(user_id=user.pk, currency="USD", amount=601, key="k2")
    assert over.value.code == "insufficient_balance"
    with pytest.raises(ValidationFailed) as small:
        billing.payout_create(user_id=user.pk, currency="USD", amount=99, key="k3")
    assert small.value.code == "below_payout_minimum"
    rest = billing.payout_create(user_id=user.pk, currency="USD", key="k4")  # everything left
    assert rest.amount == 600
    assert selectors.payable_balance(user_id=user.pk, currency="USD") == 0
    assert Payout.objects.filter(user=user).aggregate(t=Sum("amount"))["t"] == 1000


def test_the_payout_run_pays_everyone_at_or_above_the_minimum_once(settings):
    settings.QUORUM_PAYOUT_MINIMUM = 500
    rich, poor = UserFactory(), UserFactory()
    _payable(rich, 700)
    _payable(poor, 499)
    day = timezone.now().date()
    assert [p.user_id for p in billing.payouts_run(period_end=day)] == [rich.pk]
    assert billing.payouts_run(period_end=day) == []
    assert Payout.objects.count() == 1


def test_the_database_refuses_an_overdrawn_payable_even_past_the_service():
    user = UserFactory()
    _payable(user, 10)
    account = Account.objects.get(kind="annotator_payable", user=user)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE billing_account SET balance = balance + 11 WHERE id = %s", [account.pk])


# --- admin ------------------------------------------------------------------------------------------


def test_staff_add_rate_card_versions_and_set_credit_limits_in_the_admin_through_the_services(client):
    from billing.models import RateCard
    from core.models import Event

    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    acme = ClientFactory()
    form = {
        "task_type": "categorization",
        "client": str(acme.pk),
        "currency": "USD",
        "price_per_task": "30",
        "pay_per_answer": "9",
        "effective_from_0": "2026-01-01",
        "effective_from_1": "00:00:00",
    }
    assert client.post("/admin/billing/ratecard/add/", form, follow=True).status_code == 200
    card = RateCard.objects.get(client=acme)
    assert (card.price_per_task, card.pay_per_answer, card.created_by) == (30, 9, f"user:{staff.pk}")
    assert Event.objects.filter(kind="rate_card.created", actor=f"user:{staff.pk}").count() == 1
    change_url = f"/admin/billing/ratecard/{card.pk}/change/"
    assert client.get(change_url).status_code == 200  # viewable ...
    assert client.post(change_url, {**form, "price_per_task": "99"}).status_code == 403  # ... never edited
    assert RateCard.objects.get(client=acme).price_per_task == 30
    refused = client.post("/admin/billing/ratecard/add/", {**form, "currency": "EUR"}, follow=True)
    assert "this client is billed in USD" in refused.content.decode()
    assert RateCard.objects.filter(client=acme).count() == 1

    billing.credit_limit_set(client=acme, credit_limit=None)
    response = client.post(
        f"/admin/billing/clientcredit/{acme.pk}/change/", {"credit_limit": "700"}, follow=True
    )
    assert response.status_code == 200
    assert ClientCredit.objects.get(client=acme).credit_limit == 700
    assert Event.objects.filter(kind="client.credit_limit_set", actor=f"user:{staff.pk}").exists()
