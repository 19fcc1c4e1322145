"""PostgreSQL unreachable: 503 with Retry-After (API JSON, Scale JSON, pages), and a readiness
endpoint that reports PostgreSQL and the broker separately."""

from __future__ import annotations

import socket

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from clients import services as client_services
from tests.test_broker_down import dead_broker  # noqa: F401 - a fixture
from tests.web.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_api_scale_and_pages_answer_503_with_retry_after(client_a, settings):
    key = client_services.api_key_create(client=client_a, name="k").key
    member = MemberFactory(client=client_a)
    page = Client(raise_request_exception=False)
    page.force_login(member.user)
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    scale = APIClient(raise_request_exception=False)
    scale.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    before = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(_closed_port()))
    try:
        native = api.get("/api/v1/projects")
        assert native.status_code == 503, native.content
        assert native["Retry-After"] == str(settings.QUORUM_DB_RETRY_AFTER_SECONDS)
        assert native.json()["error"]["code"] == "database_unavailable"

        scale_answer = scale.get("/v1/projects")
        assert scale_answer.status_code == 503, scale_answer.content
        assert scale_answer["Retry-After"]
        assert scale_answer.json()["status_code"] == 503

        portal = page.get("/portal/")
        assert portal.status_code == 503
        assert portal["Retry-After"] and b"Briefly unavailable" in portal.content

        ready = Client().get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "unavailable" and body["postgresql"]["ok"] is False
        assert body["broker"]["ok"] is True  # reported separately: Redis is up
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(before)
    # back: the same clients work again
    assert api.get("/api/v1/projects").status_code == 200
    assert page.get("/portal/").status_code == 200


def test_readiness_reports_the_broker_separately(dead_broker):  # noqa: F811
    ready = Client().get("/readyz")
    assert ready.status_code == 200  # PostgreSQL answers: committed work is still served
    body = ready.json()
    assert body["status"] == "degraded"
    assert body["postgresql"]["ok"] is True and body["broker"]["ok"] is False and body["broker"]["error"]


def test_readiness_when_everything_is_up():
    body = Client().get("/readyz").json()
    assert body["status"] == "ready" and body["postgresql"]["ok"] and body["broker"]["ok"]


def test_readiness_fails_on_a_dead_broker_when_the_broker_is_required(dead_broker, settings):  # noqa: F811
    settings.QUORUM_READY_REQUIRES_BROKER = True
    ready = Client().get("/readyz")
    assert ready.status_code == 503 and ready["Retry-After"]  # out of rotation until Redis is back
    body = ready.json()
    assert body["status"] == "unavailable"
    assert body["postgresql"]["ok"] is True and body["broker"]["ok"] is False and body["broker"]["error"]
