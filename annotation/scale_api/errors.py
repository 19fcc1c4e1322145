"""Errors as Scale sends them: ``{"status_code": N, "error": "message"}``, always a JSON object.

The SDK maps the status to its exception classes (400 ScaleInvalidRequest, 401 ScaleUnauthorized,
402 ScaleNotEnabled, 404 ScaleResourceNotFound, 409 ScaleDuplicateResource, 500 ScaleInternalError).
It reads a 409 body's ``unique_id`` on any endpoint containing ``task`` and crashes when there is
no JSON object body, so 409 is kept for duplicates only: other conflicts answer 400.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core import health
from core.errors import DomainError
from core.exceptions import first_message

logger = logging.getLogger(__name__)

# Conflicts that are Scale's ScaleDuplicateResource; every other conflict is a 400.
DUPLICATE_CODES = frozenset(
    {"duplicate_unique_id", "unique_id_conflict", "duplicate_project_name", "duplicate_batch_name"}
)


class NotEnabled(DomainError):
    """A Scale task type Quorum does not run (Scale: "task type not enabled for the account")."""

    status_code = 402
    code = "task_type_not_enabled"


def error_response(status_code: int, message: str, headers: dict | None = None) -> Response:
    return Response({"status_code": status_code, "error": message}, status=status_code, headers=headers)


def scale_exception_handler(exc, context):
    set_rollback()
    if isinstance(exc, DomainError):
        status = exc.status_code
        if status == 409 and exc.code not in DUPLICATE_CODES:
            status = 400
        return error_response(status, exc.message)
    if isinstance(exc, Http404):
        return error_response(404, "Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait))
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            headers["WWW-Authenticate"] = 'Basic realm="quorum"'
            return error_response(401, first_message(exc.detail), headers)
        return error_response(exc.status_code, first_message(exc.detail), headers or None)
    if health.database_unavailable(exc):  # the SDK retries 5xx; Retry-After says when
        return error_response(503, health.MESSAGE, {"Retry-After": health.retry_after()})
    logger.exception("unhandled error in the Scale-compatible API", exc_info=exc)
    return error_response(500, "Internal server error; it has been logged.")
