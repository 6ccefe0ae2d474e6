"""Engine errors. Each maps to one HTTP status in api/ and carries what the caller needs."""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, errors: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


class Unauthorized(EngineError):
    """No valid credentials: a missing, expired or revoked token, or a failed login."""

    status = 401
    code = "unauthorized"


class Forbidden(EngineError):
    """Authenticated, but the caller may not do this (for objects it may see; others are NotFound)."""

    status = 403
    code = "forbidden"


class NotFound(EngineError):
    status = 404
    code = "not_found"


class Conflict(EngineError):
    """The request was valid but the state changed under it (or never allowed it)."""

    status = 409
    code = "conflict"


class InvalidInput(EngineError):
    status = 422
    code = "invalid_input"


class DeploymentRejected(EngineError):
    """Nothing was stored; ``errors`` lists each finding (file, line, element id, message)."""

    status = 400
    code = "deployment_rejected"


class TooManyRequests(EngineError):
    """``retry_after``: seconds until a retry may succeed, when known (the Retry-After header)."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, errors: Any = None, retry_after: int | None = None) -> None:
        super().__init__(message, errors=errors)
        self.retry_after = retry_after
