"""API rate limits per credential on Redis: 429 + Retry-After in the API's error shape, exact under
concurrency, and failing open when Redis is unreachable."""

from __future__ import annotations

import re
import socket
import threading
import time
from types import SimpleNamespace

import pytest

from clients import services as client_services
from config.throttling import CredentialRateThrottle
from tests.conftest import api_for_key

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def one_window(monkeypatch):
    """The counters are fixed windows (a minute, an hour) on the wall clock: requests that straddle a
    window's end start a fresh count, so a test counting to a limit pins the limiter's clock to one
    instant (CI once saw the fourth of four slow schema requests land in the next minute)."""
    import config.throttling

    now = time.time()
    monkeypatch.setattr(config.throttling, "time", SimpleNamespace(time=lambda: now))


def test_a_key_over_its_rate_gets_429_with_retry_after_and_other_keys_do_not(client_a, settings):
    settings.QUORUM_API_RATE = "5/min"
    busy = api_for_key(client_services.api_key_create(client=client_a, name="busy").key)
    calm = api_for_key(client_services.api_key_create(client=client_a, name="calm").key)
    assert [busy.get("/api/v1/projects").status_code for _ in range(5)] == [200] * 5
    refused = busy.get("/api/v1/projects")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    error = refused.json()["error"]
    # the wait runs to the end of the rate's window, so it can be "1 second" as well as "42 seconds"
    assert error["code"] == "throttled" and re.search(r"\b\d+ seconds?\b", error["message"]), error
    assert calm.get("/api/v1/projects").status_code == 200


def test_the_scale_api_answers_429_in_its_shape(client_a, settings):
    settings.QUORUM_API_RATE = "2/min"
    key = client_services.api_key_create(client=client_a, name="sdk").key
    scale = api_for_key(key)
    codes = [scale.get("/v1/projects").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = scale.get("/v1/projects")
    assert refused.json()["status_code"] == 429 and refused["Retry-After"]


def test_anonymous_requests_are_limited_per_address(settings):
    settings.QUORUM_API_ANON_RATE = "3/min"
    from rest_framework.test import APIClient

    anon = APIClient(REMOTE_ADDR="203.0.113.50")
    codes = [anon.get("/api/schema/").status_code for _ in range(4)]
    assert codes[:3] == [200] * 3 and codes[3] == 429
    assert APIClient(REMOTE_ADDR="203.0.113.51").get("/api/schema/").status_code == 200


def test_concurrent_requests_never_pass_the_limit(settings):
    """16 threads × 10 requests against a limit of 40: exactly 40 allowed (INCR is atomic)."""
    settings.QUORUM_API_RATE = "40/hour"
    request = SimpleNamespace(auth=SimpleNamespace(pk="k-concurrency"), user=None, META={})
    barrier = threading.Barrier(16)
    allowed = []

    def hammer():
        barrier.wait(timeout=30)
        for _ in range(10):
            allowed.append(CredentialRateThrottle().allow_request(request, None))

    threads = [threading.Thread(target=hammer) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(allowed) == 160 and sum(allowed) == 40


def test_redis_down_fails_open(client_a, settings, caplog):
    """The rule: when the counters cannot be reached the request is served (and a warning logged)."""
    key = client_services.api_key_create(client=client_a, name="k").key
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.QUORUM_API_RATE = "1/min"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }
    api = api_for_key(key)
    assert [api.get("/api/v1/projects").status_code for _ in range(3)] == [200, 200, 200]
    assert "rate limit not checked" in caplog.text


def test_a_windows_counter_expires_after_its_window(settings):
    """The first request of a window gives the counter an expiry (the counters never pile up)."""
    from django.core.cache import cache

    from config.throttling import _increment

    settings.QUORUM_API_RATE = "10/min"
    # this test's own key: Redis keeps counters across runs (a run a minute later would count on)
    key = f"throttle:{settings.QUORUM_THROTTLE_NAMESPACE}:test-expiry:60:1"
    assert [_increment(key, 60) for _ in range(3)] == [1, 2, 3]
    assert 0 < cache._cache.get_client(write=True).ttl(cache.make_and_validate_key(key)) <= 61


def test_a_thread_counts_on_one_connection_of_its_own(monkeypatch, settings):
    """The pool is not asked for a connection at every request (its lock and stale-reply poll cost
    more CPU than the INCR): the thread keeps the one it took."""
    from django.core.cache import cache

    from config.throttling import _increment

    _increment(f"throttle:{settings.QUORUM_THROTTLE_NAMESPACE}:warm:60:1", 60)
    pool = cache._cache._get_connection_pool(True)
    taken = []
    real = pool.get_connection
    monkeypatch.setattr(pool, "get_connection", lambda *a, **k: taken.append(1) or real(*a, **k))
    key = f"throttle:{settings.QUORUM_THROTTLE_NAMESPACE}:who:60:1"
    assert [_increment(key, 60) for _ in range(5)] == [1, 2, 3, 4, 5]
    assert taken == []


def test_a_connection_closed_by_redis_is_replaced_and_the_count_kept(settings):
    """Redis restarted (here: the server closes this thread's connection): the next request counts on
    a new connection instead of failing open."""
    from django.core.cache import cache

    from config.throttling import _held, _increment

    key = f"throttle:{settings.QUORUM_THROTTLE_NAMESPACE}:who:60:1"
    assert _increment(key, 60) == 1
    held = _held.connection
    client_id = _held.command("CLIENT", "ID")
    cache._cache.get_client(write=True).client_kill_filter(_id=client_id)
    assert _increment(key, 60) == 2
    assert _held.connection is not held
