"""API rate limits: per credential (API key, personal token, or signed-in user), counted in Redis.

Every DRF view (the native ``/api/v1/`` and the Scale-compatible ``/v1/``) counts requests per
credential in fixed one-period windows (``QUORUM_API_RATE``, default ``1200/min``: 20 requests a
second sustained per key or token), and anonymous requests per client address
(``QUORUM_API_ANON_RATE``, default ``120/min``; the address is the connecting one, or the one
``NUM_PROXIES`` trusted proxies put in ``X-Forwarded-For``). Over the limit: 429 with
``Retry-After`` (seconds to the end of the window) and the API's error body (native: code
``throttled``; Scale: ``{"status_code": 429, …}``, which the SDK retries).

One Redis round trip per request: ``INCR`` the window's key (atomic, so concurrent requests never
overshoot the limit, unlike DRF's read-modify-write history); the window's first request also
sets the key's expiry (a second command, once per window). A process that dies between the two
leaves one counter without expiry: its window has passed, so it is never read again. Each thread
sends them on a Redis connection of its own (``_HeldConnection``), not through the pool each time.

**Redis down: fail open.** If the counter cannot be reached the request is allowed and a warning is
logged. PostgreSQL holds all work and money; Redis carries only wake-ups and these counters, so a
Redis outage must not become an API outage (claims and submits keep working, committed work keeps
answering 200). Sign-in lockout does not depend on Redis: django-axes keeps its counts in
PostgreSQL (``clients.web.auth``).
"""

from __future__ import annotations

import logging
import os
import threading
import time

import redis
from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"1200/min"`` → (1200, 60); ``""``, ``"off"`` or None → None (no limit)."""
    if not rate or rate.strip().lower() in ("off", "none", "0"):
        return None
    count, _, period = rate.strip().partition("/")
    return int(count), PERIODS[period.strip().lower()]


def client_ip(request) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or with ``NUM_PROXIES`` trusted proxies in front the
    address the outermost of them saw (the same rule DRF's throttles use). Also axes' IP."""
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR") or None


class _HeldConnection(threading.local):
    """This thread's own connection to the cache's Redis (the write pool's), taken once and kept.

    ``client.incr`` takes a connection from the pool and gives it back at every call, under the pool's lock
    and with a poll of the socket for a stale reply, which cost more CPU per API request than the round trip
    itself in an in-process profile. A thread sends one command at a time, so a connection of its own needs
    neither. It is given up after any error (a reply can be left half read), after a fork and when the cache's
    pool is replaced; a connection that went stale (Redis restarted) is replaced and the command sent once
    more, as redis-py's own retry would."""

    pool = None
    connection = None
    pid = 0

    def get(self):
        pool = cache._cache._get_connection_pool(True)
        if self.connection is None or self.pool is not pool or self.pid != os.getpid():
            self.drop()
            self.pool, self.connection, self.pid = pool, pool.get_connection(), os.getpid()
        return self.connection

    def drop(self) -> None:
        if self.connection is not None:
            self.connection.disconnect()
        self.pool = self.connection = None

    def command(self, *args):
        try:
            return self._send(*args)
        except redis.ConnectionError:  # stale (Redis restarted): once more, on a new connection
            return self._send(*args)

    def _send(self, *args):
        connection = self.get()
        try:
            connection.send_command(*args)
            return connection.read_response()
        except BaseException:
            self.drop()
            raise


_held = _HeldConnection()


def _increment(key: str, period: int) -> int:
    full = cache.make_and_validate_key(key)
    count = int(_held.command("INCR", full))
    if count == 1:  # the window's first request gives its key an expiry
        _held.command("EXPIRE", full, period + 1)
    return count


class CredentialRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._wait: float | None = None

    @staticmethod
    def identity(request) -> tuple[str, str]:
        """(who, the setting naming their rate)."""
        auth = getattr(request, "auth", None)
        user = getattr(request, "user", None)
        if auth is not None and getattr(auth, "pk", None) is not None:
            return f"{type(auth).__name__.lower()}:{auth.pk}", "QUORUM_API_RATE"
        if user is not None and getattr(user, "is_authenticated", False):
            return f"user:{user.pk}", "QUORUM_API_RATE"
        return f"ip:{client_ip(request) or 'unknown'}", "QUORUM_API_ANON_RATE"

    def allow_request(self, request, view) -> bool:
        who, setting = self.identity(request)
        rate = parse_rate(getattr(settings, setting))
        if rate is None:
            return True
        limit, period = rate
        now = time.time()
        window = int(now // period)
        key = f"throttle:{settings.QUORUM_THROTTLE_NAMESPACE}:{who}:{period}:{window}"
        try:
            count = _increment(key, period)
        except Exception as exc:  # Redis unreachable: fail open (module docstring)
            logger.warning("rate limit not checked (Redis unreachable: %s); request allowed", exc)
            return True
        if count <= limit:
            return True
        self._wait = max(1.0, (window + 1) * period - now)
        return False

    def wait(self) -> float | None:
        return self._wait
