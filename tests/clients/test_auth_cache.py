"""Authentication without a query per request, and its bound: a key revoked in another process is
refused within QUORUM_AUTH_CACHE_SECONDS; in the process that revoked it, at once."""

import pytest
from django.utils import timezone

from clients import auth
from clients import services as client_services
from clients.models import ApiKey
from tests.conftest import api_for_key

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch, settings):
    settings.QUORUM_AUTH_CACHE_SECONDS = 5
    fake = Clock()
    monkeypatch.setattr(auth, "monotonic", fake)
    return fake


def test_a_key_revoked_elsewhere_is_refused_within_the_cache_bound(client_a, clock):
    issued = client_services.api_key_create(client=client_a, name="pipeline")
    api = api_for_key(issued.key)
    assert api.get("/api/v1/projects").status_code == 200

    # Another process revokes it: this process is not told, only the row changes.
    ApiKey.objects.filter(pk=issued.obj.pk).update(revoked_at=timezone.now())
    clock.now += 4.9
    assert api.get("/api/v1/projects").status_code == 200  # still remembered: inside the bound
    clock.now += 0.2
    refused = api.get("/api/v1/projects")
    assert refused.status_code == 401  # 5.1 s after it was remembered: looked up again, refused
    assert refused.json()["error"]["code"] == "invalid_api_key"


def test_the_revoking_process_refuses_the_key_at_once(client_a, clock, django_capture_on_commit_callbacks):
    issued = client_services.api_key_create(client=client_a, name="pipeline")
    api = api_for_key(issued.key)
    assert api.get("/api/v1/projects").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        client_services.api_key_revoke(client=client_a, api_key_id=issued.obj.pk)
    assert api.get("/api/v1/projects").status_code == 401  # no time has passed on the clock


def test_invalid_keys_are_never_remembered(client_a, clock):
    issued = client_services.api_key_create(client=client_a, name="pipeline")
    wrong = issued.key[:-4] + "AAAA"
    assert api_for_key(wrong).get("/api/v1/projects").status_code == 401
    assert auth.identities.get(auth.keys.hash_key(wrong)) is None


def test_zero_turns_the_cache_off(client_a, clock, settings):
    settings.QUORUM_AUTH_CACHE_SECONDS = 0
    issued = client_services.api_key_create(client=client_a, name="pipeline")
    api = api_for_key(issued.key)
    assert api.get("/api/v1/projects").status_code == 200
    ApiKey.objects.filter(pk=issued.obj.pk).update(revoked_at=timezone.now())
    assert api.get("/api/v1/projects").status_code == 401
