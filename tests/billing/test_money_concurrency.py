"""docs/reliability.md (spend reservation, idempotency): money under concurrency, on real
PostgreSQL connections.

- 200 payout requests of 1.00 against a payable of 100.00 → exactly 100 succeed, balance 0.
- A budget for 500 tasks with 800 annotators claiming at once → exactly 500 charged (and the same
  with a client credit limit instead of a project budget).
- 50 concurrent identical requests with one Idempotency-Key → one ledger transaction; every answer
  is the original's bytes or a 409 while it was in flight.

Each worker thread has its own database connection (Django opens one per thread).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from django.db.models import Sum
from rest_framework.test import APIClient

from annotation import services
from annotation.models import Annotator, Task
from billing import selectors
from billing import services as billing
from billing.models import ClientCredit, LedgerEntry, LedgerTransaction, Payout, ProjectBudget
from clients.models import User
from core.errors import Conflict
from tests.annotation.factories import ProjectFactory
from tests.clients.factories import ClientFactory, UserFactory

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

THREADS = 16


def _run_all(fn, items, threads: int = THREADS) -> list:
    """Run ``fn(item)`` for every item on ``threads`` threads released together; close each
    thread's connection afterwards."""
    barrier = threading.Barrier(threads)
    chunks = [items[i::threads] for i in range(threads)]

    def worker(chunk):
        barrier.wait()
        try:
            return [fn(item) for item in chunk]
        finally:
            connections.close_all()

    with ThreadPoolExecutor(threads) as pool:
        return [r for chunk_results in pool.map(worker, chunks) for r in chunk_results]


def _annotators(n: int) -> list[Annotator]:
    """``n`` active annotators, made in bulk (a factory would hash 800 passwords)."""
    users = User.objects.bulk_create([User(email=f"crowd{i}@example.test", password="!") for i in range(n)])
    return Annotator.objects.bulk_create([Annotator(user=u, status=Annotator.Status.ACTIVE) for u in users])


def test_two_hundred_payouts_of_one_dollar_against_one_hundred_dollars_exactly_one_hundred_succeed(settings):
    settings.QUORUM_PAYOUT_MINIMUM = 100
    user = UserFactory()
    work = billing.Work(task_id="seed", project_id=None, project_name="", task_type="categorization")
    billing.answer_pay(
        submission_id="seed", user_id=user.pk, client=ClientFactory(), amount=10_000, work=work
    )

    def request(i):
        try:
            billing.payout_create(user_id=user.pk, currency="USD", amount=100, key=f"payout-{i}")
            return "paid"
        except Conflict as exc:
            return exc.code

    outcomes = _run_all(request, list(range(200)))

    assert outcomes.count("paid") == 100
    assert outcomes.count("insufficient_balance") == 100
    assert selectors.payable_balance(user_id=user.pk, currency="USD") == 0
    assert Payout.objects.filter(user=user).count() == 100
    payable_sum = LedgerEntry.objects.filter(account__kind="annotator_payable", account__user=user).aggregate(
        t=Sum("amount")
    )["t"]
    assert payable_sum == 0  # the cached balance and the entries agree


@pytest.mark.parametrize("limit_by", ["project_budget", "client_credit"])
def test_a_limit_for_five_hundred_tasks_with_eight_hundred_annotators_claiming_charges_exactly_five_hundred(
    limit_by,
):
    price = 10
    client = ClientFactory()
    project = ProjectFactory(client=client, price_per_task=price, pay_per_answer=0)
    if limit_by == "project_budget":
        billing.project_budget_set(client=client, project_id=project.id, limit=500 * price)
    else:
        billing.credit_limit_set(client=client, credit_limit=500 * price)
    services.task_bulk_create(
        client=client,
        actor=None,
        project=project,
        items=[{"params": {"attachment": f"f{i}", "attachment_type": "text"}} for i in range(1000)],
    )
    annotators = _annotators(800)

    def claim_and_submit(annotator):
        claim = services.assignment_claim(annotator=annotator)
        if claim is None:
            return False
        a = claim.assignment
        services.assignment_submit(
            annotator=annotator, assignment_id=a.pk, claim_version=a.claim_version, answer={"category": "car"}
        )
        return True

    served = _run_all(claim_and_submit, annotators)

    charges = LedgerTransaction.objects.filter(kind="task_charge", client=client)
    assert served.count(True) == 500
    assert charges.count() == 500
    assert (
        LedgerEntry.objects.filter(account__kind="client_receivable", account__client=client).aggregate(
            t=Sum("amount")
        )["t"]
        == 5000
    )
    assert Task.objects.filter(project=project, status="completed").count() == 500
    assert Task.objects.filter(project=project, spend_reserved=True).count() == 500
    assert (
        Task.objects.filter(project=project, status="pending", slots_taken=0, spend_reserved=False).count()
        == 500
    )
    if limit_by == "project_budget":
        assert ProjectBudget.objects.get(project_id=project.id).committed == 5000
    assert ClientCredit.objects.get(client=client).committed == 5000


def test_fifty_concurrent_identical_requests_with_one_idempotency_key_post_one_transaction():
    client = ClientFactory()
    staff = UserFactory(is_staff=True)
    url = f"/api/v1/staff/clients/{client.id}/topups"
    body = {"amount": 2500, "reference": "wire 42"}

    def request(_):
        api = APIClient()
        api.force_authenticate(user=staff)
        response = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="same-key")
        return response.status_code, response.content

    answers = _run_all(request, list(range(50)), threads=50)

    statuses = [status for status, _ in answers]
    assert set(statuses) <= {200, 409}, statuses
    bodies = {content for status, content in answers if status == 200}
    assert len(bodies) == 1  # the original and every replay: the same bytes
    assert LedgerTransaction.objects.filter(kind="topup", client=client).count() == 1
    assert ClientCredit.objects.get(client=client).received == 2500
    # After it finished, a retry is a replay of the same bytes, never a second top-up.
    api = APIClient()
    api.force_authenticate(user=staff)
    again = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="same-key")
    assert (again.status_code, again.content, again["Idempotent-Replayed"]) == (200, bodies.pop(), "true")
    assert LedgerTransaction.objects.filter(kind="topup", client=client).count() == 1
    connection.close()
