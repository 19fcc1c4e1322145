"""core.webhooks and core.tasks: signing (T17), the outbox, and delivery attempts (T18)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone

import factory
import pytest
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from clients import secrets as keys
from core import tasks, webhooks
from core.errors import ValidationFailed
from core.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from core.outbound import OutboundResult
from tests.clients.factories import ClientFactory
from tests.clients.receiver import Receiver, Reply
from tests.wakeups import intercept

PAYLOAD = {"task_id": "t_1", "status": "completed", "response": {"label": "cat"}}
PAYLOAD_BYTES = b'{"response":{"label":"cat"},"status":"completed","task_id":"t_1"}'
SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    # TODO(lead): move to tests/clients/factories.py (outside this change's files).
    class Meta:
        model = WebhookEndpoint

    client = factory.SubFactory(ClientFactory)
    url = "https://hooks.example.com/quorum"
    secret = factory.LazyFunction(keys.new_webhook_secret)
    events = factory.LazyFunction(list)


@pytest.fixture(autouse=True)
def outbound_settings(settings):
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = True
    settings.QUORUM_OUTBOUND_TIMEOUT_SECONDS = 5.0
    settings.QUORUM_WEBHOOK_RETRY_SCHEDULE = SCHEDULE


@pytest.fixture(autouse=True)
def woken(monkeypatch):
    """Wake-ups sent to the broker (recorded here instead: these tests never touch Redis)."""
    sent: list[str] = []
    intercept(monkeypatch, "core.tasks.deliver", lambda delivery_id: sent.append(delivery_id))
    return sent


def enqueue_callback(client, url, *, dedupe_key="task:t_1:completed", payload=PAYLOAD):
    return webhooks.delivery_enqueue(
        client=client,
        kind=WebhookDelivery.Kind.TASK_CALLBACK,
        event_type="task.completed",
        url=url,
        payload=payload,
        dedupe_key=dedupe_key,
    )


def make_due(delivery):
    WebhookDelivery.objects.filter(id=delivery.id).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


# -- signing (T17) --------------------------------------------------------------------------------


def test_signed_body_verifies_with_the_reference_library():
    secret = keys.new_webhook_secret()
    headers = webhooks.sign_headers(
        secret=secret, message_id="msg_1", timestamp=timezone.now(), body=PAYLOAD_BYTES
    )
    assert sorted(headers) == ["webhook-id", "webhook-signature", "webhook-timestamp"]
    assert headers["webhook-id"] == "msg_1"
    assert Webhook(secret).verify(PAYLOAD_BYTES, headers) == PAYLOAD


def test_signature_matches_the_published_test_vector():
    headers = webhooks.sign_headers(
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        message_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=datetime.fromtimestamp(1614265330, tz=UTC),
        body=b'{"test": 2432232314}',
    )
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


def _flip_last(text: str) -> str:
    return text[:-1] + ("0" if text[-1] != "0" else "1")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda body, headers: (body[:-2] + b"X" + body[-1:], headers),
        lambda body, headers: (body, {**headers, "webhook-id": _flip_last(headers["webhook-id"])}),
        lambda body, headers: (
            body,
            {**headers, "webhook-timestamp": _flip_last(headers["webhook-timestamp"])},
        ),
    ],
    ids=["body", "id", "timestamp"],
)
def test_a_one_byte_mutation_fails_verification(mutate):
    secret = keys.new_webhook_secret()
    headers = webhooks.sign_headers(
        secret=secret, message_id="msg_1", timestamp=timezone.now(), body=PAYLOAD_BYTES
    )
    body, headers = mutate(PAYLOAD_BYTES, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)


@pytest.mark.parametrize(("offset", "verifies"), [(-301, False), (-299, True), (299, True), (301, False)])
def test_receivers_accept_timestamps_within_five_minutes(offset, verifies):
    secret = keys.new_webhook_secret()
    when = timezone.now() + timedelta(seconds=offset)
    headers = webhooks.sign_headers(secret=secret, message_id="msg_1", timestamp=when, body=PAYLOAD_BYTES)
    try:
        Webhook(secret).verify(PAYLOAD_BYTES, headers)
        verified = True
    except WebhookVerificationError:
        verified = False
    assert verified is verifies


def test_sign_headers_uses_unix_time_whatever_the_timezone():
    utc = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    plus_two = utc.astimezone(dt_timezone(timedelta(hours=2)))
    secret = keys.new_webhook_secret()
    signed = [
        webhooks.sign_headers(secret=secret, message_id="m", timestamp=t, body=b"{}") for t in (utc, plus_two)
    ]
    assert signed[0] == signed[1]
    assert signed[0]["webhook-timestamp"] == "1767323045"


# -- enqueue --------------------------------------------------------------------------------------


def test_enqueue_twice_with_the_same_dedupe_key_creates_one_row_and_one_wakeup(
    client_a, django_capture_on_commit_callbacks, woken
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = enqueue_callback(client_a, "https://hooks.example.com/cb")
        second = enqueue_callback(client_a, "https://hooks.example.com/cb", payload={"other": True})
    assert second.id == first.id
    assert WebhookDelivery.objects.count() == 1
    assert len(callbacks) == 1
    assert woken == [str(first.id)]
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts, row.payload, row.kind) == ("pending", 0, PAYLOAD, "task_callback")
    assert row.message_id.startswith("msg_") and len(row.message_id) == 36


def test_an_enqueue_rolled_back_with_its_transaction_leaves_nothing(transactional_db, woken):
    client = ClientFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_callback(client, "https://hooks.example.com/cb")
        raise RuntimeError("the business change failed")
    assert WebhookDelivery.objects.count() == 0
    assert woken == []


def test_enqueue_commits_then_wakes_a_worker(transactional_db, woken):
    client = ClientFactory()
    with transaction.atomic():
        delivery = enqueue_callback(client, "https://hooks.example.com/cb")
        assert woken == []  # not while the transaction is open
    assert woken == [str(delivery.id)]


@pytest.mark.parametrize(
    ("kind", "code"), [("carrier_pigeon", "invalid_kind"), (WebhookDelivery.Kind.WEBHOOK, "invalid_kind")]
)
def test_enqueue_refuses_an_invalid_kind(client_a, kind, code):
    with pytest.raises(ValidationFailed) as caught:
        webhooks.delivery_enqueue(
            client=client_a, kind=kind, event_type="x", url="https://h.example/", payload={}, dedupe_key="k"
        )
    assert caught.value.code == code
    assert WebhookDelivery.objects.count() == 0


def test_endpoint_event_fans_out_to_enabled_subscribed_endpoints(client_a):
    every = WebhookEndpointFactory(client=client_a, events=[])
    subscribed = WebhookEndpointFactory(client=client_a, events=["task.completed"])
    WebhookEndpointFactory(client=client_a, events=["batch.completed"])
    WebhookEndpointFactory(client=client_a, enabled=False)
    WebhookEndpointFactory(events=[])  # another client's
    for _ in range(2):
        deliveries = webhooks.endpoint_event_enqueue(
            client=client_a,
            event_type="task.completed",
            payload={"task_id": "t_1"},
            dedupe_key="task:t_1:completed",
        )
    assert sorted(d.endpoint_id for d in deliveries) == sorted([every.id, subscribed.id])
    rows = WebhookDelivery.objects.order_by("dedupe_key")
    assert [r.dedupe_key for r in rows] == sorted(f"task:t_1:completed:{e.id}" for e in (every, subscribed))
    assert {r.kind for r in rows} == {"webhook"}
    assert rows[0].payload["type"] == "task.completed"
    assert rows[0].payload["data"] == {"task_id": "t_1"}


# -- one attempt (T18) ----------------------------------------------------------------------------


def test_attempt_delivers_the_signed_body(client_a):
    with Receiver() as receiver:
        delivery = enqueue_callback(client_a, receiver.url + "callbacks")
        result = webhooks.delivery_attempt(delivery_id=delivery.id)
        requests = receiver.requests
    assert (result.status, result.attempts, result.last_status_code, result.last_error) == (
        "delivered",
        1,
        200,
        "",
    )
    assert result.delivered_at is not None
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.delivery_id, attempt.status_code, attempt.error, attempt.response_excerpt) == (
        delivery.id,
        200,
        "",
        "ok",
    )
    assert len(requests) == 1
    request = requests[0]
    assert (request.method, request.path, request.body) == ("POST", "/callbacks", PAYLOAD_BYTES)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "Quorum-Webhooks/1.0"
    assert request.headers["scale-callback-auth"] == client_a.callback_auth_key
    assert request.headers["webhook-id"] == delivery.message_id
    assert Webhook(client_a.callback_signing_secret).verify(request.body, request.headers) == PAYLOAD


def test_webhook_kind_is_signed_with_the_endpoint_secret(client_a):
    with Receiver() as receiver:
        endpoint = WebhookEndpointFactory(client=client_a, url=receiver.url)
        [delivery] = webhooks.endpoint_event_enqueue(
            client=client_a, event_type="task.completed", payload={"task_id": "t_1"}, dedupe_key="e1"
        )
        webhooks.delivery_attempt(delivery_id=delivery.id)
        [request] = receiver.requests
    assert "scale-callback-auth" not in request.headers
    assert Webhook(endpoint.secret).verify(request.body, request.headers)["data"] == {"task_id": "t_1"}
    with pytest.raises(WebhookVerificationError):
        Webhook(client_a.callback_signing_secret).verify(request.body, request.headers)


def test_running_the_deliver_task_twice_sends_once(client_a):
    with Receiver() as receiver:
        delivery = enqueue_callback(client_a, receiver.url)
        runs = [tasks.deliver.apply(args=[str(delivery.id)]) for _ in range(2)]
        requests = len(receiver.requests)
    assert [run.successful() for run in runs] == [True, True]
    assert requests == 1
    assert DeliveryAttempt.objects.count() == 1
    assert WebhookDelivery.objects.get().status == "delivered"


@pytest.mark.concurrency
def test_concurrent_workers_send_a_due_attempt_once(transactional_db):
    # given one due delivery, eight workers woken for it at the same moment (the row lock decides)
    # and a fifth wake-up while the request is in flight (the lease decides)
    client = ClientFactory()
    with Receiver(default=Reply(status=200, delay=1.0)) as receiver:
        delivery = enqueue_callback(client, receiver.url)
        start = threading.Barrier(8)
        errors: list[BaseException] = []

        def worker():
            try:
                start.wait()
                webhooks.delivery_attempt(delivery_id=delivery.id)
            except BaseException as exc:  # surfaced by the assertion below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        assert receiver.wait_for(1, timeout=5)
        late = webhooks.delivery_attempt(delivery_id=delivery.id)
        for thread in threads:
            thread.join(timeout=30)
        requests = len(receiver.requests)
    # then exactly one request was sent and logged
    assert errors == []
    assert (late.status, late.attempts) == ("pending", 1)
    assert requests == 1
    assert DeliveryAttempt.objects.count() == 1
    assert WebhookDelivery.objects.values_list("status", "attempts").get() == ("delivered", 1)


def test_a_500_keeps_the_delivery_pending_and_retries_in_5_seconds(client_a):
    with Receiver(default=Reply(status=500, body=b"boom")) as receiver:
        delivery = enqueue_callback(client_a, receiver.url)
        before = timezone.now()
        first = webhooks.delivery_attempt(delivery_id=delivery.id)
        after = timezone.now()
        # when a second wake-up arrives before the retry is due
        second = webhooks.delivery_attempt(delivery_id=delivery.id)
        requests = len(receiver.requests)
    assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 500)
    assert before + timedelta(seconds=4.5) <= first.next_attempt_at <= after + timedelta(seconds=5.5)
    assert (second.attempts, second.next_attempt_at) == (1, first.next_attempt_at)
    assert requests == 1
    assert list(DeliveryAttempt.objects.values_list("status_code", "response_excerpt")) == [(500, "boom")]


def test_a_410_fails_the_delivery_and_disables_the_endpoint(client_a):
    with Receiver(default=Reply(status=410)) as receiver:
        endpoint = WebhookEndpointFactory(client=client_a, url=receiver.url)
        [gone, waiting] = [
            webhooks.endpoint_event_enqueue(
                client=client_a, event_type="export.ready", payload={}, dedupe_key=key
            )[0]
            for key in ("k1", "k2")
        ]
        result = webhooks.delivery_attempt(delivery_id=gone.id)
        # the endpoint's other pending delivery is failed without being sent
        other = webhooks.delivery_attempt(delivery_id=waiting.id)
        requests = len(receiver.requests)
    endpoint.refresh_from_db()
    assert (result.status, result.attempts, result.last_status_code) == ("failed", 1, 410)
    assert endpoint.enabled is False
    assert endpoint.disabled_reason.startswith("The endpoint answered 410 Gone at ")
    assert (other.status, other.attempts, other.last_error) == ("failed", 0, "endpoint disabled")
    assert requests == 1


def test_a_410_fails_a_task_callback(client_a):
    with Receiver(default=Reply(status=410)) as receiver:
        delivery = enqueue_callback(client_a, receiver.url)
        result = webhooks.delivery_attempt(delivery_id=delivery.id)
    assert (result.status, result.attempts, result.last_status_code) == ("failed", 1, 410)


@pytest.mark.parametrize("jitter_edge", [0.9, 1.1])
def test_the_schedule_is_exhausted_after_10_attempts(client_a, monkeypatch, jitter_edge):
    # The jitter is pinned to one edge of its ±10 % range (the service draws it with
    # random.uniform(0.9, 1.1)), so each retry time is known exactly: the time the attempt was
    # recorded (between before and after) plus the scheduled delay times that edge. No slack for
    # the send's duration is needed, however slow the machine.
    low, high = 1 - webhooks.RETRY_JITTER, 1 + webhooks.RETRY_JITTER
    assert (low, high) == pytest.approx((0.9, 1.1))
    monkeypatch.setattr(webhooks.random, "uniform", lambda a, b: a if jitter_edge < 1 else b)
    with Receiver(default=Reply(status=503)) as receiver:
        delivery = enqueue_callback(client_a, receiver.url)
        windows = []
        for _ in range(10):
            make_due(delivery)
            before = timezone.now()
            row = webhooks.delivery_attempt(delivery_id=delivery.id)
            windows.append((before, row.next_attempt_at, timezone.now()))
        make_due(delivery)
        after_exhausted = webhooks.delivery_attempt(delivery_id=delivery.id)
        requests = receiver.requests
    assert (after_exhausted.status, after_exhausted.attempts) == ("failed", 10)
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 10
    assert len(requests) == 10
    assert {r.headers["webhook-id"] for r in requests} == {delivery.message_id}
    assert {r.body for r in requests} == {PAYLOAD_BYTES}
    for (before, next_attempt_at, after), scheduled in zip(windows[:9], SCHEDULE, strict=True):
        delay = timedelta(seconds=scheduled * jitter_edge)
        assert before + delay <= next_attempt_at <= after + delay


def test_retry_delays_stay_within_the_jitter(settings):
    settings.QUORUM_WEBHOOK_RETRY_SCHEDULE = SCHEDULE
    for attempt, scheduled in enumerate(SCHEDULE, start=1):
        delays = [
            webhooks.retry_delay_seconds(attempt=attempt, status_code=503, retry_after_seconds=None)
            for _ in range(200)
        ]
        assert all(scheduled * 0.9 <= d <= scheduled * 1.1 for d in delays)
        assert len(set(delays)) > 1  # jittered, not a fixed delay
    assert (
        webhooks.retry_delay_seconds(attempt=len(SCHEDULE) + 1, status_code=503, retry_after_seconds=None)
        is None
    )


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_delays_the_next_attempt_at_least_that_long(client_a, status):
    with Receiver(default=Reply(status=status, headers={"Retry-After": "120"})) as receiver:
        delivery = enqueue_callback(client_a, receiver.url)
        before = timezone.now()
        result = webhooks.delivery_attempt(delivery_id=delivery.id)
        after = timezone.now()
    assert (result.status, result.attempts, result.last_status_code) == ("pending", 1, status)
    assert before + timedelta(seconds=120) <= result.next_attempt_at <= after + timedelta(seconds=120)


def test_a_redirect_counts_as_failure_and_is_not_followed(client_a):
    with (
        Receiver() as canary,
        Receiver(default=Reply(status=302, headers={"Location": canary.url})) as origin,
    ):
        delivery = enqueue_callback(client_a, origin.url)
        result = webhooks.delivery_attempt(delivery_id=delivery.id)
        canary_connections = canary.connections
    assert (result.status, result.attempts, result.last_status_code) == ("pending", 1, 302)
    assert result.last_error == "redirects are not followed (302)"
    assert canary_connections == 0


def test_a_forbidden_target_at_send_time_is_a_failed_attempt(client_a, settings):
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = False
    with Receiver() as receiver:
        delivery = enqueue_callback(client_a, receiver.url)
        result = webhooks.delivery_attempt(delivery_id=delivery.id)
        connections = receiver.connections
    assert (result.status, result.attempts, result.last_status_code) == ("pending", 1, None)
    assert result.last_error.startswith("forbidden_target: ")
    assert DeliveryAttempt.objects.get().error == result.last_error
    assert connections == 0


def test_an_invalid_url_fails_at_once(client_a):
    delivery = enqueue_callback(client_a, "gopher://127.0.0.1:6379/_INFO")
    result = webhooks.delivery_attempt(delivery_id=delivery.id)
    assert (result.status, result.attempts) == ("failed", 1)
    assert result.last_error == "invalid_url: Only http and https URLs are accepted."


@pytest.mark.parametrize("secret", ["", "whsec_not base64!"])
def test_a_missing_signing_secret_fails_without_sending(db, secret):
    client = ClientFactory(callback_signing_secret=secret)
    with Receiver() as receiver:
        delivery = enqueue_callback(client, receiver.url)
        result = webhooks.delivery_attempt(delivery_id=delivery.id)
        connections = receiver.connections
    assert (result.status, result.attempts, result.last_error) == (
        "failed",
        0,
        "the signing secret is missing or invalid",
    )
    assert connections == 0
    assert DeliveryAttempt.objects.count() == 0


def test_an_outcome_after_a_newer_claim_is_logged_but_not_applied(client_a, monkeypatch):
    # given the lease ran out during the request and another worker claimed attempt 2
    delivery = enqueue_callback(client_a, "https://hooks.example.com/cb")

    def slow_post(url, body, headers):
        WebhookDelivery.objects.filter(id=delivery.id).update(attempts=F("attempts") + 1)
        return OutboundResult(status_code=200, error="", duration_ms=40_000)

    monkeypatch.setattr(webhooks.outbound, "post_json", slow_post)
    # when the first worker records its outcome
    result = webhooks.delivery_attempt(delivery_id=delivery.id)
    # then the log has it, and the delivery belongs to the newer attempt
    assert (result.status, result.attempts, result.delivered_at) == ("pending", 2, None)
    assert list(DeliveryAttempt.objects.values_list("status_code", flat=True)) == [200]


def test_attempting_a_missing_delivery_does_nothing(db):
    assert webhooks.delivery_attempt(delivery_id="01900000-0000-7000-8000-000000000000") is None


# -- dispatcher -----------------------------------------------------------------------------------


def test_dispatcher_wakes_a_worker_for_each_due_pending_delivery(client_a, woken):
    due = [enqueue_callback(client_a, "https://hooks.example.com/cb", dedupe_key=f"due{i}") for i in range(2)]
    later = enqueue_callback(client_a, "https://hooks.example.com/cb", dedupe_key="later")
    done = enqueue_callback(client_a, "https://hooks.example.com/cb", dedupe_key="done")
    WebhookDelivery.objects.filter(id=later.id).update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    WebhookDelivery.objects.filter(id=done.id).update(status=WebhookDelivery.Status.DELIVERED)
    for delivery in due:
        make_due(delivery)
    # the on-commit wake-ups were sent more than a minute ago and never consumed (lost in the broker)
    WebhookDelivery.objects.update(dispatched_at=timezone.now() - timedelta(minutes=2))

    assert [tasks.dispatch_due_deliveries(), tasks.dispatch_due_deliveries()] == [2, 0]
    assert sorted(woken) == sorted(str(d.id) for d in due)


def test_dispatcher_does_not_flood_a_backlog_and_an_attempt_clears_the_mark(client_a, woken):
    delivery = enqueue_callback(client_a, "https://hooks.example.com/cb", dedupe_key="backlog")
    make_due(delivery)
    # given the row's wake-up was just sent (at enqueue) and not consumed yet
    assert tasks.dispatch_due_deliveries() == 0
    # when a minute passes without an attempt, the relay sends one more
    WebhookDelivery.objects.filter(id=delivery.id).update(
        dispatched_at=timezone.now() - timedelta(seconds=61)
    )
    assert tasks.dispatch_due_deliveries() == 1
    assert tasks.dispatch_due_deliveries() == 0
    assert woken == [str(delivery.id)]
