"""The marketplace loop end to end: client API → annotators → completion → ledger → callbacks.

Everything goes through the HTTP API (DRF's in-process ``APIClient``); callbacks are delivered by
a real Celery worker process (``celery_worker_process``) that picks up the on-commit wake-ups from
Redis and POSTs to a loopback receiver. No eager mode, no mocks.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks import Webhook

from annotation import services as annotation_services
from annotation.models import Assignment, Task
from billing.models import Account, LedgerEntry, LedgerTransaction
from clients import services as client_services
from core.models import Event, WebhookDelivery
from tests.clients.receiver import Receiver
from tests.e2e.conftest import wait_until
from tests.wakeups import intercept

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

N_TASKS = 50
PRICE = 25
PAY = 4  # per answer; set here, not left to the rate card (whose rows a flush may have removed)
OVERLAP = 2
CATEGORIES = ["car", "pedestrian", "cyclist"]
CALLBACK_TIMEOUT = 60.0


def bearer(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


def new_annotator(email: str) -> APIClient:
    user = client_services.user_create(email=email)
    annotation_services.annotator_create(user=user, active=True)
    return bearer(client_services.access_token_create(user=user).key)


def create_project(api: APIClient, *, name: str, overlap: int, price: int) -> str:
    response = api.post(
        "/api/v1/projects",
        {
            "name": name,
            "task_type": "categorization",
            "params": {"categories": CATEGORIES},
            "overlap": overlap,
            "price_per_task": price,
            "pay_per_answer": PAY,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def list_all(api: APIClient, url: str) -> list[dict]:
    """Follow the cursor pagination to the end."""
    results: list[dict] = []
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.content
        page = response.json()
        results.extend(page["results"])
        url = page["next"]
    return results


def test_fifty_tasks_go_round_the_marketplace_loop(celery_worker_process):
    # given: a client with a live API key, a categorization project and 50 tasks with callbacks
    client = client_services.client_create(name="Loop Labs")
    api = bearer(client_services.api_key_create(client=client, name="e2e").key)
    project_id = create_project(api, name="Loop", overlap=OVERLAP, price=PRICE)
    annotators = [new_annotator(f"annotator{i}@example.test") for i in range(3)]

    with Receiver() as receiver:
        response = api.post(
            "/api/v1/tasks/bulk",
            {
                "project": project_id,
                "tasks": [
                    {
                        "params": {
                            "attachment": f"Frame {i}: what is in the box?",
                            "attachment_type": "text",
                        },
                        "unique_id": f"frame-{i}",
                        "callback_url": receiver.url + f"callbacks?frame={i}",
                    }
                    for i in range(N_TASKS)
                ],
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        assert response.json()["created"] == N_TASKS
        created_ids = {item["task_id"] for item in response.json()["tasks"]}
        assert len(created_ids) == N_TASKS

        # when: three annotators ask for work and submit until none is left
        submitted = 0
        idle = [False] * len(annotators)
        while not all(idle):
            for n, annotator_api in enumerate(annotators):
                response = annotator_api.post("/api/v1/work/next", {}, format="json")
                assert response.status_code == 200, response.content
                assignment = response.json()["assignment"]
                idle[n] = assignment is None
                if assignment is None:
                    continue
                assert assignment["task"]["params"]["categories"] == CATEGORIES
                answer = {"category": CATEGORIES[submitted % len(CATEGORIES)]}
                response = annotator_api.post(
                    f"/api/v1/work/assignments/{assignment['id']}/submit",
                    {"claim_version": assignment["claim_version"], "answer": answer},
                    format="json",
                )
                assert response.status_code == 200, response.content
                submitted += 1
            assert submitted <= N_TASKS * OVERLAP, "more answers accepted than the overlap allows"

        # then: every task was answered `overlap` times and is completed, as the client sees it
        assert submitted == N_TASKS * OVERLAP
        completed = list_all(api, "/api/v1/tasks?status=completed&limit=20")
        assert {t["task_id"] for t in completed} == created_ids
        assert len(completed) == N_TASKS
        assert all(
            t["answers_received"] == OVERLAP and t["response"]["category"] in CATEGORIES for t in completed
        )
        assert list_all(api, "/api/v1/tasks?status=pending") == []

        # and: the worker delivered one signed callback per task
        def distinct_callback_tasks() -> set[str]:
            return {json.loads(r.body)["task_id"] for r in receiver.requests}

        arrived = wait_until(
            lambda: len(distinct_callback_tasks()) >= N_TASKS, timeout=CALLBACK_TIMEOUT, interval=0.2
        )
        assert arrived, (
            f"{len(distinct_callback_tasks())}/{N_TASKS} callbacks within {CALLBACK_TIMEOUT} s; "
            f"deliveries: {list(WebhookDelivery.objects.values_list('status', 'attempts', 'last_error'))}"
        )
        requests = receiver.requests

    verifier = Webhook(client.callback_signing_secret)
    for request in requests:
        assert request.method == "POST"
        assert request.path.startswith("/callbacks?frame=")
        assert request.headers["content-type"] == "application/json"
        assert request.headers["scale-callback-auth"] == client.callback_auth_key
        body = verifier.verify(request.body, request.headers)  # raises on a bad signature
        assert body["status"] == "completed"
        assert body["task"]["task_id"] == body["task_id"]
        assert body["task"]["status"] == "completed"
        assert body["response"] == body["task"]["response"]
        assert body["response"]["category"] in CATEGORIES
        assert request.path == f"/callbacks?frame={body['task']['unique_id'].removeprefix('frame-')}"
    # at least once: a redelivery repeats the webhook-id, never a different task
    assert {json.loads(r.body)["task_id"] for r in requests} == created_ids
    assert len({r.headers["webhook-id"] for r in requests}) == N_TASKS
    assert wait_until(
        lambda: WebhookDelivery.objects.filter(status=WebhookDelivery.Status.DELIVERED).count() == N_TASKS,
        timeout=10,
    )
    assert WebhookDelivery.objects.count() == N_TASKS

    # and: the ledger balances and charged the client 50 × 25
    assert LedgerEntry.objects.aggregate(total=Sum("amount"))["total"] == 0
    charges = LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.TASK_CHARGE)
    assert charges.count() == N_TASKS
    pay = LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.ANSWER_PAY)
    assert pay.count() == N_TASKS * OVERLAP  # one posting per accepted answer
    assert LedgerTransaction.objects.count() == N_TASKS + N_TASKS * OVERLAP  # nothing else
    assert set(charges.values_list("reference", flat=True)) == {f"task:{task_id}" for task_id in created_ids}
    unbalanced = LedgerEntry.objects.values("transaction").annotate(total=Sum("amount")).exclude(total=0)
    assert list(unbalanced) == []
    receivable = LedgerEntry.objects.filter(
        account__kind=Account.Kind.CLIENT_RECEIVABLE, account__client=client
    )
    assert receivable.aggregate(total=Sum("amount"))["total"] == N_TASKS * PRICE
    payable = LedgerEntry.objects.filter(account__kind=Account.Kind.ANNOTATOR_PAYABLE)
    assert payable.aggregate(total=Sum("amount"))["total"] == -N_TASKS * OVERLAP * PAY  # credit-normal
    response = api.get("/api/v1/billing/balance")
    assert response.status_code == 200
    balance = response.json()
    assert (balance["currency"], balance["receivable"], balance["committed"]) == (
        "USD",
        N_TASKS * PRICE,
        N_TASKS * PRICE,
    )


def test_the_worker_expires_a_lapsed_lease_and_frees_its_slot(celery_worker_process):
    from annotation import tasks as annotation_tasks

    # given: a task whose only slot is held by a lease that has run out
    client = client_services.client_create(name="Sweep Labs")
    api = bearer(client_services.api_key_create(client=client, name="e2e").key)
    project_id = create_project(api, name="Sweep", overlap=1, price=PRICE)
    response = api.post(
        "/api/v1/tasks/bulk",
        {
            "project": project_id,
            "tasks": [{"params": {"attachment": "Is this a car?", "attachment_type": "text"}}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    task_id = response.json()["tasks"][0]["task_id"]
    first, second = new_annotator("first@example.test"), new_annotator("second@example.test")
    assignment = first.post("/api/v1/work/next", {}, format="json").json()["assignment"]
    assert assignment["task"]["id"] == task_id
    assert Task.objects.get(pk=task_id).slots_taken == 1
    assert (
        second.post("/api/v1/work/next", {}, format="json").json()["assignment"] is None
    )  # the slot is taken
    Assignment.objects.filter(pk=assignment["id"]).update(leased_until=timezone.now() - timedelta(seconds=5))

    # when: the sweep runs on the worker, twice
    runs = [annotation_tasks.expire_leases.delay(), annotation_tasks.expire_leases.delay()]

    # then: the lease is expired once and the slot is back in the pool
    def swept() -> bool:
        return (
            Assignment.objects.get(pk=assignment["id"]).status == Assignment.Status.EXPIRED
            and Task.objects.get(pk=task_id).slots_taken == 0
        )

    assert wait_until(swept, timeout=30), (
        f"the lease was not expired; worker log:\n{celery_worker_process.log()}"
    )
    results = sorted(int(celery_worker_process.wait_succeeded(run.id)) for run in runs)
    assert results == [0, 1]
    task = Task.objects.get(pk=task_id)
    assert (task.status, task.slots_taken, task.answers_received) == (Task.Status.PENDING, 0, 0)
    assert Event.objects.filter(kind="assignment.expired", entity_id=assignment["id"]).count() == 1

    # and: the late submit is refused and changes nothing
    response = first.post(
        f"/api/v1/work/assignments/{assignment['id']}/submit",
        {"claim_version": assignment["claim_version"], "answer": {"category": "car"}},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "lease_lost"
    task.refresh_from_db()
    assert (task.status, task.slots_taken, task.answers_received) == (Task.Status.PENDING, 0, 0)
    assert not task.submissions.exists()
    assert not LedgerTransaction.objects.exists()

    # and: the freed slot goes to the next annotator
    reclaimed = second.post("/api/v1/work/next", {}, format="json").json()["assignment"]
    assert reclaimed["task"]["id"] == task_id
    assert reclaimed["claim_version"] == assignment["claim_version"] + 1


def test_lost_wake_ups_are_relayed_from_the_outbox_rows(celery_worker_process, monkeypatch):
    """The broker holds nothing that cannot be rebuilt: when every on-commit wake-up is lost
    (Redis down or the web process dying right after the commit), the dispatcher re-sends them
    from the delivery rows and the real worker delivers every callback once it does."""
    from core import tasks as client_tasks

    client = client_services.client_create(name="Outbox Labs")
    api = bearer(client_services.api_key_create(client=client, name="e2e").key)
    project_id = create_project(api, name="Outbox", overlap=1, price=PRICE)
    worker = new_annotator("outbox-worker@example.test")
    n = 12

    with Receiver() as receiver:
        api.post(
            "/api/v1/tasks/bulk",
            {
                "project": project_id,
                "tasks": [
                    {"params": {"attachment": f"t{i}"}, "callback_url": receiver.url + "cb"} for i in range(n)
                ],
            },
            format="json",
        )
        # given: every wake-up published after a commit is lost
        with monkeypatch.context() as lossy:
            intercept(lossy, "core.tasks.deliver", lambda *args, **kwargs: None)
            for _ in range(n):
                assignment = worker.post("/api/v1/work/next", {}, format="json").json()["assignment"]
                done = worker.post(
                    f"/api/v1/work/assignments/{assignment['id']}/submit",
                    {"claim_version": assignment["claim_version"], "answer": {"category": "car"}},
                    format="json",
                )
                assert done.json()["task_status"] == "completed"
            assert WebhookDelivery.objects.filter(client=client, status="pending").count() == n
            assert not wait_until(lambda: receiver.requests, timeout=2.0), (
                "a callback arrived without a wake-up"
            )

        # when: the dispatcher runs (beat, every 5 s) after its re-send interval has passed
        assert client_tasks.dispatch_due_deliveries() == 0  # wake-ups count as sent for a minute
        WebhookDelivery.objects.filter(client=client).update(
            dispatched_at=timezone.now() - timedelta(minutes=2)
        )
        assert client_tasks.dispatch_due_deliveries() == n

        # then: the real worker delivers every callback
        assert wait_until(lambda: len(receiver.requests) >= n, timeout=CALLBACK_TIMEOUT, interval=0.2), (
            celery_worker_process.log()[-3000:]
        )
        assert len({json.loads(r.body)["task_id"] for r in receiver.requests}) == n
        assert wait_until(
            lambda: WebhookDelivery.objects.filter(client=client, status="delivered").count() == n, timeout=10
        )
