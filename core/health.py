"""What a request gets when PostgreSQL is gone (the probes, ``/healthz`` and ``/readyz``, are in
``config/views.py``).

- A request that fails because PostgreSQL is unreachable answers **503** with ``Retry-After``
  (``QUORUM_DB_RETRY_AFTER_SECONDS``): the native API ``{"error": {"code": "database_unavailable",
  …}}``, the Scale API ``{"status_code": 503, "error": …}`` (its SDK retries 5xx), pages a short
  readable page. Other database errors stay 500s.
"""

from __future__ import annotations

import sys

import psycopg
from django.conf import settings
from django.db import DatabaseError
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
