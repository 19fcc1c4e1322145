"""Committed work answers with what committed while the broker is unreachable.

The broker (Redis) only carries wake-ups; PostgreSQL holds the work. With the Celery app pointed
at a port where nothing listens, every wake-up sent after COMMIT fails. The requests must still
answer with the committed result (submit 200, export 202 exactly once, audit 201), and once the
broker is back the periodic relays find the rows and deliver them.
"""

from __future__ import annotations

import socket

import pytest
from kombu import pools

from annotation.models import ExportJob, Task
from annotation.services import exports as export_services
from clients import services as client_services
from config.celery import app as celery_app
from core import webhooks
from core.models import WebhookDelivery
from tests.annotation.factories import AnnotatorFactory, ProjectFactory, TaskFactory
from tests.clients.receiver import Receiver
from tests.conftest import api_for_key

pytestmark = pytest.mark.django_db(transaction=True)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when the block ends: nothing listens there


def _point_broker_at(url: str) -> None:
    celery_app.conf.broker_url = url
    celery_app.amqp._producer_pool = None
    pools.reset()


@pytest.fixture
def dead_broker():
    before = celery_app.conf.broker_url
    _point_broker_at(f"redis://127.0.0.1:{_closed_port()}/0")
    yield
    _point_broker_at(before)


def test_committed_requests_answer_their_result_while_the_broker_is_down(client_a, api_a, dead_broker):
    project = ProjectFactory(client=client_a, overlap=1, price_per_task=25)
    with Receiver() as receiver:
        task = TaskFactory(project=project, callback_url=receiver.url)
        annotator = AnnotatorFactory()
        worker = api_for_key(client_services.access_token_create(user=annotator.user).key)

        claim = worker.post("/api/v1/work/next", {"project": str(project.id)}, format="json").json()[
            "assignment"
        ]
        submit = worker.post(
            f"/api/v1/work/assignments/{claim['id']}/submit",
            {"claim_version": claim["claim_version"], "answer": {"category": "car"}},
            format="json",
        )
        assert submit.status_code == 200, submit.content
        assert submit.json()["task_status"] == "completed"

        export = api_a.post(f"/api/v1/projects/{project.id}/exports", {"format": "jsonl"}, format="json")
        assert export.status_code == 202, export.content
        assert ExportJob.objects.filter(project=project).count() == 1

        audit = api_a.post(f"/api/v1/tasks/{task.id}/audit", {"accepted": False}, format="json")
        assert audit.status_code == 201, audit.content
        task.refresh_from_db()
        assert task.status == Task.Status.PENDING and task.rework_round == 1  # the rejection took effect

        # Nothing reached the receiver: every wake-up was lost with the broker.
        callbacks = WebhookDelivery.objects.filter(client=client_a, kind=WebhookDelivery.Kind.TASK_CALLBACK)
        assert callbacks.count() == 2  # task.completed and task.audited
        assert receiver.requests == []

        # The relays: the dispatcher's next run re-sends the wake-ups of due rows (a failed wake-up
        # left its row undispatched, so no minute-long wait); here the attempt runs inline.
        due = webhooks.deliveries_dispatch()
        assert set(due) == set(callbacks.values_list("id", flat=True))
        for delivery_id in due:
            webhooks.delivery_attempt(delivery_id=delivery_id)
        assert receiver.wait_for(2, timeout=10)
        assert set(callbacks.values_list("status", flat=True)) == {WebhookDelivery.Status.DELIVERED}
        assert export_services.exports_relay() == list(
            ExportJob.objects.filter(project=project).values_list("id", flat=True)
        )


def test_a_wake_up_gives_up_after_one_immediate_retry(dead_broker, monkeypatch):
    """Wake-ups are hints the relays repeat, so publishing tries the broker twice (one retry for a
    stale pooled connection) and gives up, instead of Celery's default three retries 0.2 s apart
    (``CELERY_TASK_PUBLISH_RETRY_POLICY``). Published as the services publish them: by name."""
    port = int(celery_app.conf.broker_url.rsplit(":", 1)[1].split("/")[0])
    attempts = []
    real_connect = socket.socket.connect

    def counting_connect(self, address):
        if isinstance(address, tuple) and address[1] == port:
            attempts.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", counting_connect)
    with pytest.raises(Exception):  # noqa: B017 - kombu's OperationalError: the broker is unreachable
        celery_app.send_task("core.tasks.deliver", args=["00000000-0000-0000-0000-000000000000"])
    # Each publish try is two connection attempts (redis-py retries its connect once): 2 tries → 4.
    # Celery's default policy (4 tries, 0.2 s apart) makes 8 and takes ~0.6 s.
    assert 1 <= len(attempts) <= 4, attempts
