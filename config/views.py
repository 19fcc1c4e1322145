"""Wiring-level views: the home redirect by role, the health probes, and error pages (JSON for the
API, ``web/error.html`` for pages).

- ``GET /healthz`` (liveness): the process serves requests and runs ``SELECT 1``; unchanged, so the
  claim benchmark's HTTP floor keeps its meaning.
- ``GET /readyz`` (readiness): PostgreSQL and the broker checked separately, each with a short
  timeout, e.g. ``{"status": "degraded", "postgresql": {"ok": true, "ms": 0.8},
  "broker": {"ok": false, "error": "…"}}``. 503 (``unavailable``) when PostgreSQL does not answer:
  take the process out of rotation then. When only the broker is down it answers 200 ``degraded``
  by default (committed work still answers, wake-ups wait for the relays; alert on ``broker``), or
  503 ``unavailable`` with ``QUORUM_READY_REQUIRES_BROKER=true``.

A request that fails because PostgreSQL is unreachable answers 503 (``core/health.py``).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render

from clients.web.errors import error_page
from config.celery import app
from core import health
from core.exceptions import error_body

API_PREFIXES = ("/api/", "/v1/")


def home(request):
    """Each person to their area: staff → /ops/, client members → /portal/, annotators → /work/."""
    user = request.user
    if not user.is_authenticated:
        return render(request, "web/landing.html")
    if user.is_staff:
        return redirect("/ops/")
    if user.memberships.filter(client__is_active=True).exists():
        return redirect("/portal/")
    if hasattr(user, "annotator"):
        return redirect("/work/")
    return error_page(
        request,
        status=403,
        title="No access yet",
        code="no_role",
        message="Your account is not a member of any client, an annotator or staff. Ask an administrator "
        "for access.",
    )


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


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
        return JsonResponse(body, status=503, headers={"Retry-After": health.retry_after()})
    return JsonResponse(body)


def _scale_error(status: int, message: str) -> JsonResponse:
    """The Scale-compatible API's error shape (docs/scale-compatibility.md §3): a JSON object the
    SDK reads."""
    return JsonResponse({"status_code": status, "error": message}, status=status)


def not_found(request, exception=None):
    if request.path.startswith("/v1/"):
        return _scale_error(404, f"No endpoint at {request.path}.")
    if request.path.startswith(API_PREFIXES):
        return JsonResponse(error_body("not_found", f"No endpoint at {request.path}."), status=404)
    return error_page(
        request,
        status=404,
        message="There is nothing at this address, or it is not yours to see.",
        code="not_found",
    )


def server_error(request):
    if health.current_exception_is_database_unavailable():  # 503 + Retry-After, not 500
        if request.path.startswith("/v1/"):
            return health.unavailable_api_response({"status_code": 503, "error": health.MESSAGE})
        if request.path.startswith(API_PREFIXES):
            return health.unavailable_api_response(error_body("database_unavailable", health.MESSAGE))
        return health.unavailable_page()
    if request.path.startswith("/v1/"):
        return _scale_error(500, "Internal server error; it has been logged.")
    if request.path.startswith(API_PREFIXES):
        return JsonResponse(
            error_body("server_error", "Internal server error; it has been logged."), status=500
        )
    return HttpResponse("<!doctype html><title>Server error</title><h1>Server error</h1>", status=500)
