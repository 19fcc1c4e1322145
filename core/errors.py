"""Domain errors. Services raise these; ``core.exceptions`` renders them as JSON objects
``{"error": {"code": ..., "message": ..., "details": ...}}`` with the HTTP status they carry (the
Scale API and the pages render them in their own shapes).
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "invalid_request"

    def __init__(
        self, message: str, *, code: str | None = None, details: Any = None, status_code: int | None = None
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.details = details


class ValidationFailed(DomainError):
    status_code = 400
    code = "validation_error"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class PermissionDenied(DomainError):
    status_code = 403
    code = "permission_denied"


class TooManyRequests(DomainError):
    status_code = 429
    code = "too_many_requests"
