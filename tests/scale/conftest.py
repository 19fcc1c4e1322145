"""Fixtures for the Scale-compatible API: the real ``scaleapi`` SDK against a live server.

The server is pytest-django's ``live_server`` (a thread of this process serving the test
database over HTTP on loopback), so data the test commits is what the SDK sees, and settings or
patches made here apply to the server too. Broker wake-ups (callback deliveries, the test-mode
simulator) are recorded instead of sent: these tests never touch Redis, and they run deliveries
themselves with ``core.webhooks.delivery_attempt``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
import scaleapi
from django.db import connection

from annotation import services as annotation_services
from clients import services as client_services
from clients.models import ApiKey, Client
from tests.e2e.conftest import wait_until
from tests.wakeups import intercept

CATEGORIES = ["red", "blue", "green"]
BOX_GEOMETRIES = {"box": {"objects_to_annotate": ["car", "pedestrian"], "min_width": 2, "min_height": 2}}
IMAGE_URL = "https://images.example.com/frame-1.jpg"


@dataclass
class Tenant:
    client: Client
    live_key: str
    test_key: str


@pytest.fixture(autouse=True)
def recorded_wakeups(monkeypatch):
    """Celery wake-ups that would go to Redis, recorded by name instead."""
    sent: list[tuple[str, object]] = []
    intercept(monkeypatch, "core.tasks.deliver", lambda delivery_id: sent.append(("deliver", delivery_id)))
    intercept(monkeypatch, "annotation.tasks.simulate_test_tasks", lambda ids: sent.append(("simulate", ids)))
    intercept(monkeypatch, "annotation.tasks.check_attachments", lambda ids: sent.append(("check", ids)))
    return sent


@pytest.fixture(autouse=True)
def loopback_callbacks(settings):
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = True
    settings.QUORUM_OUTBOUND_TIMEOUT_SECONDS = 5.0


def make_tenant(name: str) -> Tenant:
    client = client_services.client_create(name=name)
    live = client_services.api_key_create(client=client, name="live", mode=ApiKey.Mode.LIVE).key
    test = client_services.api_key_create(client=client, name="test", mode=ApiKey.Mode.TEST).key
    return Tenant(client=client, live_key=live, test_key=test)


@pytest.fixture
def tenant_a(transactional_db) -> Tenant:
    return make_tenant("Acme Autonomy")


@pytest.fixture
def tenant_b(transactional_db) -> Tenant:
    return make_tenant("Beta Labs")


@pytest.fixture
def base_url(live_server) -> Iterator[str]:
    yield live_server.url + "/v1"
    # The SDK opens a requests.Session per call and never closes it; until the garbage collector
    # does, the server thread holds the connection (keep-alive) and its database session.
    gc.collect()
    wait_until(lambda: _other_sessions() == 0, timeout=10)


def _other_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> "
            "pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.fixture
def sdk(base_url):
    """``sdk(key)``: a ScaleClient changed in one line, ``api_instance_url``, to point at Quorum."""

    def make(key: str) -> scaleapi.ScaleClient:
        return scaleapi.ScaleClient(key, api_instance_url=base_url)

    return make


@pytest.fixture
def raw(base_url):
    """``raw(method, path, key=…, **kw)``: a plain HTTP request the way the SDK sends it (Basic
    auth with the key as user name, JSON content type on every request)."""

    def call(method: str, path: str, *, key: str | None = None, **kwargs) -> requests.Response:
        headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
        auth = (key, "") if key else None
        return requests.request(
            method,
            f"{base_url}/{path}",
            auth=auth,
            headers=headers,
            timeout=30,
            allow_redirects=False,
            **kwargs,
        )

    return call


def new_annotator_token(email: str) -> str:
    user = client_services.user_create(email=email)
    annotation_services.annotator_create(user=user, active=True)
    return client_services.access_token_create(user=user).key


def categorization_project(sdk_client: scaleapi.ScaleClient, name: str = "Colours", **params):
    return sdk_client.create_project(
        name,
        scaleapi.TaskType.Categorization,
        params={"categories": CATEGORIES, "instruction": "Pick the colour.", **params},
    )


def categorization_task(sdk_client: scaleapi.ScaleClient, project: str = "Colours", **kwargs):
    body = {"project": project, "attachment": "A ripe tomato", "attachment_type": "text", **kwargs}
    return sdk_client.create_task(scaleapi.TaskType.Categorization, **body)
