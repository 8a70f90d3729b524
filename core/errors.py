"""Domain exceptions, raised where a failure is known and turned into the error format once.

The HTTP status and the CLUTCH error code travel with the exception class, so no layer below
the error middleware needs to know about HTTP.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "VALIDATION_ERROR"
    default_message: ClassVar[str] = "The request is not valid"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        field_errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        self.field_errors = field_errors or {}
        self.headers = headers or {}
        super().__init__(self.message)


class ValidationFailed(DomainError):
    status = 400
    code = "VALIDATION_ERROR"
    default_message = "Request validation failed"


class Unauthorized(DomainError):
    status = 401
    code = "UNAUTHORIZED"
    default_message = "Missing or invalid authentication"


class Forbidden(DomainError):
    status = 403
    code = "FORBIDDEN"
    default_message = "Insufficient permissions"


class NotFound(DomainError):
    status = 404
    code = "NOT_FOUND"
    default_message = "Resource doesn't exist"


class Conflict(DomainError):
    status = 409
    code = "CONFLICT"
    default_message = "Resource already exists"


class RateLimited(DomainError):
    status = 429
    code = "RATE_LIMITED"
    default_message = "Too many requests"


class ServiceUnavailable(DomainError):
    status = 503
    code = "SERVICE_UNAVAILABLE"
    default_message = "Service temporarily unavailable"
