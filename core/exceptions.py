"""One exception handler for the native API: every error is a JSON object with a code and a message.

Shape: ``{"error": {"code": "<stable_code>", "message": "<human text>", "details": ...}}``.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.errors import DomainError


def first_message(detail) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            inner = first_message(value)
            return inner if key == "non_field_errors" else f"{key}: {inner}"
        return "Invalid request."
    if isinstance(detail, list):
        return first_message(detail[0]) if detail else "Invalid request."
    return str(detail)


def error_body(code: str, message: str, details=None) -> dict:
    body = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return body


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, Http404):
        return Response(error_body("not_found", "Not found."), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None  # a real server error: Django's 500 handling and logging apply
    if isinstance(exc, exceptions.ValidationError):
        code = getattr(exc, "error_code", "validation_error")  # core.strict.UnknownField: unknown_field
        body = error_body(code, first_message(exc.detail), exc.detail)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        body = error_body(code, first_message(exc.detail))
    else:  # pragma: no cover - DRF only returns responses for APIException subclasses
        body = error_body("error", str(exc))
    response.data = body
    return response
