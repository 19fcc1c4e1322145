"""Every event a client can subscribe to reaches every matching enabled endpoint, signed, once.

The deliveries go through the real outbox path: the enqueue's wake-up (recorded here instead of
sent to Redis) and the dispatcher name the rows, ``webhooks.delivery_attempt`` POSTs them to a
receiver on 127.0.0.1, and the test verifies each body with the endpoint's own secret.
Task completion is driven through both paths: ``quorum_submit`` (SQL, relayed after COMMIT) and
``complete.settle`` (Python, in the transaction).
"""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connections
from standardwebhooks import Webhook

from annotation import services
from annotation.lifecycle import complete, notify, submit
from annotation.models import Batch, ExportJob, Task
from annotation.services import batch_control, work
from core import events, webhooks
from core.models import Event, WebhookDelivery
from tests.annotation.export_factories import media_root  # noqa: F401 - a fixture
from tests.annotation.factories import AnnotatorFactory, ProjectFactory, TaskFactory
from tests.clients.receiver import Receiver
from tests.clients.test_webhooks import WebhookEndpointFactory
from tests.wakeups import intercept

CATEGORIES = ["car", "pedestrian", "cyclist", "truck"]


@pytest.fixture(autouse=True)
def loopback(settings):
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = True
    settings.QUORUM_OUTBOUND_TIMEOUT_SECONDS = 5.0


WAKE_AFTER_SQL_COMPLETION = notify.wake_after_sql_completion  # before the fixture below replaces it


@pytest.fixture(autouse=True)
def woken(monkeypatch):
    """Wake-ups the enqueue sends after COMMIT (recorded: these tests never touch Redis)."""
    sent: list[str] = []
    intercept(monkeypatch, "core.tasks.deliver", lambda delivery_id: sent.append(str(delivery_id)))
    # A SQL completion queues the relay for a worker after COMMIT: here the worker runs it at once
    # (the queueing itself: test_a_sql_completion_wakes_a_registered_worker_task).
    monkeypatch.setattr(notify, "wake_after_sql_completion", notify.after_sql_completion)
    return sent


def deliver_all(woken: list[str]) -> int:
    """What the workers do: attempt every woken row, and every row the dispatcher finds due."""
    ids = list(dict.fromkeys([*woken, *(str(i) for i in webhooks.deliveries_dispatch())]))
    woken.clear()
    for delivery_id in ids:
        webhooks.delivery_attempt(delivery_id=delivery_id)
    return len(ids)


def verified(receiver: Receiver, secret: str) -> list[dict]:
    """Every request the receiver got, each verified with ``secret`` (raises if one does not)."""
    return [Webhook(secret).verify(r.body, r.headers) for r in receiver.requests]


def endpoints(client, url, *, subscribed: str):
    """Four endpoints: subscribed to the event, to every event, to another event only, disabled."""
    return (
        WebhookEndpointFactory(client=client, url=url + "exact", events=[subscribed]),
        WebhookEndpointFactory(client=client, url=url + "all", events=[]),
        WebhookEndpointFactory(
            client=client,
            url=url + "other",
            events=["export.failed" if subscribed != "export.failed" else "export.ready"],
        ),
        WebhookEndpointFactory(client=client, url=url + "off", events=[], enabled=False),
    )


def answer_all(project, task, answers) -> None:
    for answer in answers:
        annotator = AnnotatorFactory()
        claim = work.assignment_claim(annotator=annotator, project_id=project.pk)
        assert claim.assignment.task_id == task.pk
        a = claim.assignment
        work.assignment_submit(
            annotator=annotator, assignment_id=a.pk, claim_version=a.claim_version, answer=answer
        )


def categorization_project(client, *, in_sql: bool, **extra):
    extra = {"overlap": 2, "max_overlap": 2, **extra}
    project = ProjectFactory(
        client=client,
        params={"categories": CATEGORIES},
        # Reviewing with a share of 0 sends the round through Python and never holds it.
        review_enabled=not in_sql,
        review_share=0.0,
        **extra,
    )
    assert submit.python_settles("categorization", project.params, project) is not in_sql
    return project


def assert_one_delivery_each(event_type, *targets):
    for endpoint in targets:
        assert WebhookDelivery.objects.filter(endpoint=endpoint, event_type=event_type).count() == 1


# -- task.completed on both paths --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("in_sql", [True, False], ids=["quorum_submit", "python-settle"])
def test_task_completed_reaches_every_subscribed_endpoint_once(
    client_a, woken, django_capture_on_commit_callbacks, in_sql
):
    with Receiver() as receiver:
        exact, every, other, off = endpoints(client_a, receiver.url, subscribed="task.completed")
        project = categorization_project(client_a, in_sql=in_sql)
        task = TaskFactory(project=project)
        with django_capture_on_commit_callbacks(execute=True):
            answer_all(project, task, [{"category": "car"}, {"category": "car"}])
        task.refresh_from_db()
        assert task.status == "completed"

        assert deliver_all(woken) == 2
        assert receiver.wait_for(2)
        by_path = {r.path: r for r in receiver.requests}
        assert set(by_path) == {"/exact", "/all"}
        for endpoint in (exact, every):
            request = by_path["/" + endpoint.url.rsplit("/", 1)[1]]
            body = Webhook(endpoint.secret).verify(request.body, request.headers)
            assert body["type"] == "task.completed"
            assert body["data"]["task_id"] == str(task.pk)
            assert (body["data"]["status"], body["data"]["response"]) == ("completed", {"category": "car"})
        assert not WebhookDelivery.objects.filter(endpoint__in=[other, off]).exists()

        # The relays and the completion relay running again add nothing.
        assert services.events_relay() == 0
        services.task_try_complete(task_id=task.pk)
        assert services.batches_complete_ready() == 0
        assert deliver_all(woken) == 0
        assert_one_delivery_each("task.completed", exact, every)
        assert len(receiver.requests) == 2
        assert not Event.objects.filter(relay_pending=True, kind="task.completed").exists()


@pytest.mark.django_db
def test_a_lost_wake_up_after_a_sql_completion_is_relayed_by_the_beat_once(client_a, woken):
    """The after-commit wake-up never runs here (the test's transaction does not commit): the
    event row stays marked, and the beat's relay fans it out, once however often it runs."""
    every = WebhookEndpointFactory(client=client_a, events=[])
    project = categorization_project(client_a, in_sql=True)
    task = TaskFactory(project=project)
    answer_all(project, task, [{"category": "car"}, {"category": "car"}])
    event = Event.objects.get(entity_id=task.pk, kind="task.completed")
    assert event.relay_pending is True
    assert not WebhookDelivery.objects.filter(endpoint=every).exists()

    from annotation import tasks as celery_tasks

    assert celery_tasks.relay_events() == 1
    assert celery_tasks.relay_events() == 0
    (delivery,) = WebhookDelivery.objects.filter(endpoint=every)
    assert delivery.dedupe_key == f"event:{event.pk}:{every.pk}"
    assert delivery.payload["data"]["task_id"] == str(task.pk)
    event.refresh_from_db()
    assert event.relay_pending is False


@pytest.mark.django_db
def test_python_written_events_are_never_relayed_twice(client_a, woken):
    """An event Python writes fans out in its own transaction: the relay leaves it alone."""
    every = WebhookEndpointFactory(client=client_a, events=[])
    project = categorization_project(client_a, in_sql=False)
    task = TaskFactory(project=project)
    answer_all(project, task, [{"category": "car"}, {"category": "car"}])
    assert Event.objects.get(entity_id=task.pk, kind="task.completed").relay_pending is False
    assert services.events_relay() == 0
    assert WebhookDelivery.objects.filter(endpoint=every).count() == 1


# -- task.audited, task.canceled ------------------------------------------------------------------


@pytest.mark.django_db
def test_task_audited_is_delivered_with_the_audit(client_a, woken, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    with Receiver() as receiver:
        exact, every, other, off = endpoints(client_a, receiver.url, subscribed="task.audited")
        task = TaskFactory(
            project=ProjectFactory(client=client_a), status="completed", response={"category": "car"}
        )
        with capture(execute=True):
            audit = services.task_audit(
                client=client_a, actor=None, task_id=task.pk, accepted=True, comments="ok"
            )
        assert deliver_all(woken) == 2
        assert receiver.wait_for(2)
        for body in verified_per_endpoint(receiver, exact, every):
            assert body["type"] == "task.audited"
            assert body["data"]["task_id"] == str(task.pk)
            assert body["data"]["audit"]["audit_id"] == str(audit.pk)
            assert body["data"]["audit"]["audit_result"] == "accepted"
        assert not WebhookDelivery.objects.filter(endpoint__in=[other, off]).exists()


def verified_per_endpoint(receiver, *targets) -> list[dict]:
    """Each target endpoint got one request, verified with its own secret."""
    by_path = {}
    for r in receiver.requests:
        assert r.path not in by_path, f"{r.path} got two requests"
        by_path[r.path] = r
    bodies = []
    for endpoint in targets:
        request = by_path.pop("/" + endpoint.url.rsplit("/", 1)[1])
        bodies.append(Webhook(endpoint.secret).verify(request.body, request.headers))
    assert by_path == {}, f"unexpected requests to {sorted(by_path)}"
    return bodies


@pytest.mark.django_db
def test_task_canceled_is_delivered(client_a, woken, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    with Receiver() as receiver:
        exact, every, _, _ = endpoints(client_a, receiver.url, subscribed="task.canceled")
        task = TaskFactory(project=ProjectFactory(client=client_a))
        with capture(execute=True):
            services.task_cancel(client=client_a, actor=None, task_id=task.pk)
        assert deliver_all(woken) == 2
        assert receiver.wait_for(2)
        for body in verified_per_endpoint(receiver, exact, every):
            assert (body["type"], body["data"]["task_id"], body["data"]["status"]) == (
                "task.canceled",
                str(task.pk),
                "canceled",
            )


@pytest.mark.django_db
def test_a_batch_cancel_delivers_task_canceled_per_task_and_no_batch_completed(client_a, woken):
    with Receiver() as receiver:
        every = WebhookEndpointFactory(client=client_a, url=receiver.url + "all", events=[])
        project = ProjectFactory(client=client_a)
        batch = Batch.objects.create(
            client=client_a,
            project=project,
            name="b",
            status=Batch.Status.IN_PROGRESS,
            callback_url=receiver.url,
        )
        tasks_ = TaskFactory.create_batch(3, project=project, batch=batch)
        batch_control.batch_cancel(client=client_a, actor=None, batch_id=batch.pk)
        batch_control.batch_cancel(client=client_a, actor=None, batch_id=batch.pk)  # a no-op
        assert services.batches_complete_ready() == 0
        assert deliver_all(woken) == 3  # the bulk rows were left for the dispatcher
        assert receiver.wait_for(3)
        bodies = verified(receiver, every.secret)
        assert sorted(b["data"]["task_id"] for b in bodies) == sorted(str(t.pk) for t in tasks_)
        assert {b["type"] for b in bodies} == {"task.canceled"}
        batch.refresh_from_db()
        assert batch.status == "cancelled"


# -- batch.completed and the batch callback ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("in_sql", [True, False], ids=["quorum_submit", "python-settle"])
def test_the_last_task_of_a_batch_completes_it_once_with_event_and_callback(
    client_a, woken, django_capture_on_commit_callbacks, in_sql
):
    with Receiver() as receiver:
        exact, every, other, off = endpoints(client_a, receiver.url, subscribed="batch.completed")
        project = categorization_project(client_a, in_sql=in_sql)
        batch = Batch.objects.create(
            client=client_a,
            project=project,
            name="b",
            status=Batch.Status.IN_PROGRESS,
            callback_url=receiver.url + "batch-callback",
        )
        first, second, third = TaskFactory.create_batch(3, project=project, batch=batch)
        with django_capture_on_commit_callbacks(execute=True):
            services.task_cancel(client=client_a, actor=None, task_id=third.pk)
            answer_all(project, first, [{"category": "car"}, {"category": "car"}])
        batch.refresh_from_db()
        assert batch.status == "in_progress"  # one task still pending
        with django_capture_on_commit_callbacks(execute=True):
            answer_all(project, second, [{"category": "truck"}, {"category": "truck"}])
        batch.refresh_from_db()
        assert (batch.status, batch.completed_at is not None) == ("completed", True)

        assert services.batches_complete_ready() == 0
        assert notify.batch_try_complete(batch_id=batch.pk) is False
        assert Event.objects.filter(entity_id=batch.pk, kind="batch.completed").count() == 1

        WebhookDelivery.objects.exclude(event_type="batch.completed").delete()
        woken[:] = [str(i) for i in WebhookDelivery.objects.values_list("id", flat=True)]
        assert deliver_all(woken) == 3
        assert receiver.wait_for(3)
        callback = [r for r in receiver.requests if r.path == "/batch-callback"]
        assert len(callback) == 1
        body = Webhook(client_a.callback_signing_secret).verify(callback[0].body, callback[0].headers)
        assert callback[0].headers["scale-callback-auth"] == client_a.callback_auth_key
        assert (body["batch_id"], body["status"], body["task_counts"]) == (
            str(batch.pk),
            "completed",
            {"completed": 2, "canceled": 1, "error": 0},
        )
        receiver_events = [r for r in receiver.requests if r.path != "/batch-callback"]
        assert sorted(r.path for r in receiver_events) == ["/all", "/exact"]
        for endpoint in (exact, every):
            (request,) = [r for r in receiver_events if r.path == "/" + endpoint.url.rsplit("/", 1)[1]]
            envelope = Webhook(endpoint.secret).verify(request.body, request.headers)
            assert envelope["type"] == "batch.completed"
            assert envelope["data"] == body


@pytest.mark.django_db
def test_a_task_set_to_error_can_complete_its_batch(client_a, woken, django_capture_on_commit_callbacks):
    every = WebhookEndpointFactory(client=client_a, events=["batch.completed"])
    project = ProjectFactory(client=client_a)
    batch = Batch.objects.create(client=client_a, project=project, name="b", status=Batch.Status.IN_PROGRESS)
    task = TaskFactory(project=project, batch=batch)
    with django_capture_on_commit_callbacks(execute=True):
        complete.fail(task_id=task.pk, response={"error": "broken image"}, actor=None, reason="test")
    batch.refresh_from_db()
    assert batch.status == "completed"
    (delivery,) = WebhookDelivery.objects.filter(endpoint=every)
    assert delivery.payload["data"]["task_counts"] == {"completed": 0, "canceled": 0, "error": 1}


@pytest.mark.django_db
def test_a_batch_finalized_with_every_task_finished_completes(client_a, django_capture_on_commit_callbacks):
    project = ProjectFactory(client=client_a)
    batch = services.batch_create(client=client_a, actor=None, project=project, name="b")
    TaskFactory(project=project, batch=batch, status="canceled", released=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.batch_finalize(client=client_a, actor=None, batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == "completed"


@pytest.mark.django_db
def test_an_empty_or_staging_batch_does_not_complete(client_a):
    project = ProjectFactory(client=client_a)
    empty = Batch.objects.create(client=client_a, project=project, name="e", status=Batch.Status.IN_PROGRESS)
    staging = Batch.objects.create(client=client_a, project=project, name="s")
    TaskFactory(project=project, batch=staging, status="completed")
    assert services.batches_complete_ready() == 0
    assert notify.batch_try_complete(batch_id=empty.pk) is False
    assert notify.batch_try_complete(batch_id=staging.pk) is False


@pytest.mark.django_db(transaction=True)
def test_concurrent_final_submits_complete_the_batch_exactly_once(woken):
    """Two annotators submit the batch's last two tasks at the same moment (a barrier): whichever
    commits last sees the batch done; the batch row lock lets one completion through."""
    from tests.clients.factories import ClientFactory

    client = ClientFactory()
    every = WebhookEndpointFactory(client=client, events=[])
    project = categorization_project(client, in_sql=True, overlap=1, max_overlap=1)
    batch = Batch.objects.create(
        client=client,
        project=project,
        name="b",
        status=Batch.Status.IN_PROGRESS,
        callback_url="http://127.0.0.1:9/batch",
    )
    TaskFactory.create_batch(2, project=project, batch=batch, overlap=1)
    leases = []
    for _ in range(2):
        annotator = AnnotatorFactory()
        leases.append(
            (annotator, work.assignment_claim(annotator=annotator, project_id=project.pk).assignment)
        )
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def final_submit(annotator, assignment):
        try:
            barrier.wait()
            work.assignment_submit(
                annotator=annotator,
                assignment_id=assignment.pk,
                claim_version=assignment.claim_version,
                answer={"category": "car"},
            )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=final_submit, args=lease) for lease in leases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Task.objects.filter(batch=batch, status="completed").count() == 2
    batch.refresh_from_db()
    assert batch.status == "completed"
    assert Event.objects.filter(entity_id=batch.pk, kind="batch.completed").count() == 1
    assert WebhookDelivery.objects.filter(kind="batch_callback").count() == 1
    assert WebhookDelivery.objects.filter(endpoint=every, event_type="batch.completed").count() == 1
    assert WebhookDelivery.objects.filter(endpoint=every, event_type="task.completed").count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_batch_checks_complete_it_once():
    """Two checks of a finished batch at the same moment (a barrier): one completes it."""
    from tests.clients.factories import ClientFactory

    client = ClientFactory()
    WebhookEndpointFactory(client=client, events=["batch.completed"])
    project = ProjectFactory(client=client)
    batch = Batch.objects.create(client=client, project=project, name="b", status=Batch.Status.IN_PROGRESS)
    TaskFactory.create_batch(2, project=project, batch=batch, status="completed")
    barrier = threading.Barrier(4)
    results: list[bool] = []

    def check():
        try:
            barrier.wait()
            results.append(notify.batch_try_complete(batch_id=batch.pk))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=check) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    assert Event.objects.filter(entity_id=batch.pk, kind="batch.completed").count() == 1
    assert WebhookDelivery.objects.filter(event_type="batch.completed").count() == 1


# -- export.ready, export.failed --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("media_root")
@pytest.mark.parametrize("outcome", ["export.ready", "export.failed"])
def test_export_events_are_delivered(
    client_a, woken, monkeypatch, django_capture_on_commit_callbacks, outcome
):
    capture = django_capture_on_commit_callbacks
    from annotation.exports import FORMATS
    from tests.annotation.export_factories import CompletedTaskFactory

    with Receiver() as receiver:
        exact, every, other, off = endpoints(client_a, receiver.url, subscribed=outcome)
        project = ProjectFactory(client=client_a)
        CompletedTaskFactory(project=project, response={"category": "car"}, confidence=1.0)
        if outcome == "export.failed":

            def broken(ctx, tasks, out, workdir):
                raise RuntimeError("disk full")

            monkeypatch.setattr(FORMATS["jsonl"], "write", broken)
        job = services.export_create(client=client_a, actor=None, project=project, format="jsonl").job
        with capture(execute=True):
            services.export_run(export_id=job.id)
        job.refresh_from_db()
        assert job.status == ("ready" if outcome == "export.ready" else "failed")
        assert deliver_all(woken) == 2
        assert receiver.wait_for(2)
        for body in verified_per_endpoint(receiver, exact, every):
            assert (body["type"], body["data"]["export_id"]) == (outcome, str(job.pk))
        assert ExportJob.objects.count() == 1


# -- the catalogue ------------------------------------------------------------------------------------


def test_the_catalogue_is_what_the_portal_offers_and_what_is_delivered():
    from clients import services as client_services
    from clients.web.views import WebhookEndpointForm

    names = list(events.WEBHOOK_EVENTS)
    assert names == [
        "task.completed",
        "task.audited",
        "task.canceled",
        "batch.completed",
        "export.ready",
        "export.failed",
    ]
    assert [value for value, _ in WebhookEndpointForm().fields["events"].choices] == names
    assert list(client_services.WEBHOOK_EVENTS) == names


@pytest.mark.django_db
def test_a_rework_round_is_a_new_completion_delivered_once_more(
    client_a, woken, django_capture_on_commit_callbacks
):
    """Completed (in SQL), rejected by the client's audit, completed again by new annotators: each
    completion is its own event, delivered once to the endpoint; the relays add nothing."""
    every = WebhookEndpointFactory(client=client_a, events=["task.completed", "task.audited"])
    project = categorization_project(client_a, in_sql=True)
    task = TaskFactory(project=project)
    with django_capture_on_commit_callbacks(execute=True):
        answer_all(project, task, [{"category": "car"}, {"category": "car"}])
    services.task_audit(client=client_a, actor=None, task_id=task.pk, accepted=False, comments="redo")
    task.refresh_from_db()
    assert (task.status, task.rework_round) == ("pending", 1)
    with django_capture_on_commit_callbacks(execute=True):
        answer_all(project, task, [{"category": "truck"}, {"category": "truck"}])
    assert services.events_relay() == 0
    kinds = list(
        WebhookDelivery.objects.filter(endpoint=every)
        .order_by("created_at")
        .values_list("event_type", flat=True)
    )
    assert kinds == ["task.completed", "task.audited", "task.completed"]
    last = WebhookDelivery.objects.filter(endpoint=every, event_type="task.completed").order_by(
        "-created_at"
    )[0]
    assert last.payload["data"]["response"] == {"category": "truck"}


def test_a_sql_completion_wakes_a_registered_worker_task(monkeypatch):
    """The wake-up is queued by name: the name must be a task the workers run."""
    from celery import current_app

    from annotation import tasks as annotation_tasks
    from config.celery import app

    first, second = uuid.uuid4(), uuid.uuid4()
    sent = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args: sent.append((name, args)))
    WAKE_AFTER_SQL_COMPLETION(first)
    WAKE_AFTER_SQL_COMPLETION(second)
    notify.sql_completions.flush()  # the end of the window: one message for both
    assert sent == [("annotation.tasks.after_sql_completions", [[str(first), str(second)]])]
    assert sent[0][0] in app.tasks and annotation_tasks.after_sql_completions.name == sent[0][0]
