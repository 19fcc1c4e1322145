"""Health of the two servers the web process depends on, and what a request gets when one is gone.

- ``GET /healthz`` (liveness, ``config.views.healthz``): the process serves requests and runs
  ``SELECT 1``; unchanged, so the claim benchmark's HTTP floor keeps its meaning.
- ``GET /readyz`` (readiness): PostgreSQL and the broker checked separately, each with a short
  timeout, e.g. ``{"status": "degraded", "postgresql": {"ok": true, "ms": 0.8},
  "broker": {"ok": false, "error": "…"}}``. 503 (``unavailable``) when PostgreSQL does not answer:
  take the process out of rotation then. When only the broker is down it answers 200 ``degraded``
  by default (committed work still answers, wake-ups wait for the relays; alert on ``broker``), or
  503 ``unavailable`` with ``QUORUM_READY_REQUIRES_BROKER=true``.
- A request that fails because PostgreSQL is unreachable answers **503** with ``Retry-After``
  (``QUORUM_DB_RETRY_AFTER_SECONDS``): the native API ``{"error": {"code": "database_unavailable",
  …}}``, the Scale API ``{"status_code": 503, "error": …}`` (its SDK retries 5xx), pages a short
  readable page. Other database errors stay 500s.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import psycopg
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpResponse, JsonResponse

# SQLSTATE classes and codes that mean "the server is not there to answer": connection exceptions
# (08xxx), and the server shutting down, crashed or still starting (57P01-57P03).
_UNAVAILABLE_SQLSTATES = ("57P01", "57P02", "57P03")
MESSAGE = "The database is briefly unreachable; nothing was changed by this request. Retry shortly."


def database_unavailable(exc: BaseException | None) -> bool:
    """True when ``exc`` (a Django or psycopg error, or one caused by it) means PostgreSQL could
    not be reached, as opposed to a query that failed."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            state = getattr(exc, "sqlstate", None)
            return state is None or state.startswith("08") or state in _UNAVAILABLE_SQLSTATES
        if isinstance(exc, DatabaseError) and "connection" in str(exc).lower() and exc.__cause__ is None:
            return True  # Django's own "connection already closed" InterfaceError
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def current_exception_is_database_unavailable() -> bool:
    return database_unavailable(sys.exc_info()[1])


def retry_after() -> str:
    return str(settings.QUORUM_DB_RETRY_AFTER_SECONDS)


def unavailable_api_response(body: dict) -> JsonResponse:
    return JsonResponse(body, status=503, headers={"Retry-After": retry_after()})


def unavailable_page() -> HttpResponse:
    """No template context (it would read the session and the user from the database)."""
    html = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Briefly unavailable</title>"
        "<h1>Briefly unavailable</h1><p>" + MESSAGE + "</p><p><a href=''>Reload</a></p></html>"
    )
    return HttpResponse(html, status=503, headers={"Retry-After": retry_after()})


# --- readiness ------------------------------------------------------------------------------------


def check_postgresql() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure is "not ready"; the reason goes to the operator
        connection.close_if_unusable_or_obsolete()
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def check_broker() -> dict[str, Any]:
    from config.celery import app

    started = time.perf_counter()
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            client = getattr(conn.default_channel, "client", None)
            if client is not None:
                client.ping()
    except Exception as exc:  # any failure is "down"; the reason goes to the operator
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def readyz(request):
    database = check_postgresql()
    broker = check_broker()
    serving = database["ok"] and (broker["ok"] or not settings.QUORUM_READY_REQUIRES_BROKER)
    status = "ready" if database["ok"] and broker["ok"] else "degraded" if serving else "unavailable"
    body = {"status": status, "postgresql": database, "broker": broker}
    if not serving:
        return JsonResponse(body, status=503, headers={"Retry-After": retry_after()})
    return JsonResponse(body)
