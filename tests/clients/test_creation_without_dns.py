"""Callback and endpoint URLs are accepted without DNS; the address policy applies at send time.

``no_resolver`` makes every name lookup fail the way an unreachable resolver does (``EAI_AGAIN``);
numeric hosts still work (the SDK and the live server talk over 127.0.0.1), as with
``AI_NUMERICHOST``. Creation must succeed all the same, and a send to a name that then resolves to
a private address must still be refused, with nothing connected to it.
"""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

from annotation import services
from annotation.models import Batch, Task
from clients import services as client_services
from core import outbound, webhooks
from core.errors import ValidationFailed
from core.models import WebhookDelivery, WebhookEndpoint
from tests.annotation.factories import ProjectFactory

_real_getaddrinfo = socket.getaddrinfo
CALLBACK = "https://hooks.example.com/scale/callback"


@pytest.fixture
def no_resolver(monkeypatch):
    """Names never resolve (the resolver is down); ``answers[name]`` makes one resolve again."""
    state = SimpleNamespace(lookups=[], answers={})

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if host in state.answers:
            state.lookups.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (state.answers[host], int(port or 0)))]
        try:
            return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            state.lookups.append(host)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution") from None

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return state


@pytest.fixture
def connects(monkeypatch):
    seen: list = []
    guarded = socket.socket.connect

    def recording(sock, address):
        seen.append(address[0])
        return guarded(sock, address)

    monkeypatch.setattr(socket.socket, "connect", recording)
    return seen


def test_creation_needs_no_resolver_and_a_private_target_is_still_refused_at_send(
    client_a, no_resolver, connects, settings
):
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = False
    project = ProjectFactory(client=client_a)

    batch = services.batch_create(
        client=client_a, actor=None, project=project, name="no-dns", callback_url=CALLBACK
    )
    [result] = services.task_bulk_create(
        client=client_a,
        actor=None,
        project=project,
        items=[{"params": {"attachment": "x"}, "callback_url": CALLBACK}],
        is_test=True,
    )
    endpoint = client_services.webhook_endpoint_create(client=client_a, url=CALLBACK + "/events")
    assert no_resolver.lookups == []  # nothing was resolved at creation
    assert Batch.objects.get(pk=batch.pk).callback_url == CALLBACK
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).url.startswith(CALLBACK)

    # The task completes (the sandbox simulator) and its callback is queued.
    services.task_simulate_complete(task_id=result.task.id)
    assert Task.objects.get(pk=result.task.id).status == Task.Status.COMPLETED
    delivery = WebhookDelivery.objects.get(dedupe_key=f"task:{result.task.id}:completed:callback")

    # Send time, resolver still down: a DNS error, kept for a retry.
    after = webhooks.delivery_attempt(delivery_id=delivery.id)
    assert after.status == WebhookDelivery.Status.PENDING
    assert after.last_error.startswith("dns_error")
    assert no_resolver.lookups == ["hooks.example.com"]

    # The name now resolves to a private address: refused, nothing connects to it.
    no_resolver.answers["hooks.example.com"] = "10.1.2.3"
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=after.created_at)
    after = webhooks.delivery_attempt(delivery_id=delivery.id)
    assert after.last_error.startswith("forbidden_target")
    assert "10.1.2.3" in after.last_error
    assert connects == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/cb",
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:9000/cb",
        "http://127.1/cb",  # the resolver reads these legacy numeric forms as 127.0.0.1
        "http://2130706433/cb",
        "http://0x7f000001/cb",
        "http://127.0.0.1./cb",  # an absolute (trailing-dot) form of the same address
        "http://localhost./cb",
        "http://[::1]/cb",
        "http://[::ffff:10.0.0.1]/cb",
        "http://localhost:8000/cb",
        "http://api.localhost/cb",
    ],
)
def test_a_private_address_literal_is_refused_at_creation_without_dns(client_a, no_resolver, settings, url):
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = False
    project = ProjectFactory(client=client_a)
    with pytest.raises(ValidationFailed) as err:
        services.task_bulk_create(
            client=client_a,
            actor=None,
            project=project,
            items=[{"params": {"attachment": "x"}, "callback_url": url}],
        )
    assert err.value.code == "invalid_callback_url"
    assert err.value.details["field"] == "callback_url"
    with pytest.raises(ValidationFailed) as err:
        services.batch_create(client=client_a, actor=None, project=project, name="b", callback_url=url)
    assert err.value.code == "forbidden_target"
    with pytest.raises(ValidationFailed) as err:
        client_services.webhook_endpoint_create(client=client_a, url=url)
    assert err.value.code == "forbidden_target"
    assert not Task.objects.exists() and not Batch.objects.exists() and not WebhookEndpoint.objects.exists()
    assert no_resolver.lookups == []


@pytest.mark.parametrize(
    "url", ["ftp://hooks.example.com/", "https://user:pw@hooks.example.com/", "https:///nohost", "not a url"]
)
def test_bad_syntax_or_scheme_is_refused_at_creation(client_a, no_resolver, url):
    project = ProjectFactory(client=client_a)
    with pytest.raises(ValidationFailed) as err:
        services.task_bulk_create(
            client=client_a,
            actor=None,
            project=project,
            items=[{"params": {"attachment": "x"}, "callback_url": url}],
        )
    assert err.value.code == "invalid_callback_url"
    assert not Task.objects.exists()


def test_check_url_accepts_names_and_public_literals_without_io(no_resolver, settings):
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = False
    assert outbound.check_url("https://hooks.example.com/x").host == "hooks.example.com"
    assert outbound.check_url("http://93.184.216.34/x").host == "93.184.216.34"
    assert outbound.check_url("http://1.2.3.4.5/x").host == "1.2.3.4.5"  # not an address: a name
    assert outbound.literal_address("bad.cafe") is None
    assert str(outbound.literal_address("0x7f.1")) == "127.0.0.1"
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = True
    assert outbound.check_url("http://127.0.0.1:9/x").port == 9
    assert no_resolver.lookups == []
