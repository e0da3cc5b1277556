"""The error envelope every API speaks: {"error": {"code", "message"}} with a proper status."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class StartupError(Exception):
    """A service cannot start; the message says what is wrong and what to do."""


class ApiError(Exception):
    """An error a handler raises to answer the client with a code it can act on."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody


ERROR_STATUSES = {
    400: "Bad request",
    401: "Not signed in, or the token is expired or invalid",
    403: "Signed in, but not allowed",
    404: "Not found, or not yours",
    409: "Conflicts with the current state",
    413: "Too large",
    422: "The request breaks a rule; the code names it",
    429: "Too many requests; see Retry-After",
    503: "A dependency is unavailable; see Retry-After",
}


RETRY_AFTER = {
    "description": "Seconds to wait before trying again",
    "schema": {"type": "integer", "minimum": 1},
}
# every 429 says when to come back; a 503 does when it knows
ERROR_HEADERS: dict[int, dict[str, Any]] = {
    429: {"Retry-After": {**RETRY_AFTER, "required": True}},
    503: {"Retry-After": RETRY_AFTER},
}


def error_responses() -> dict[int | str, dict[str, Any]]:
    """The envelope, documented for every status an API answers errors with (for OpenAPI)."""
    return {
        status: {
            "model": ErrorEnvelope,
            "description": description,
            **({"headers": ERROR_HEADERS[status]} if status in ERROR_HEADERS else {}),
        }
        for status, description in ERROR_STATUSES.items()
    }


def error_codes(status: int, codes: dict[str, str]) -> dict[int | str, dict[str, Any]]:
    """One status documented with the codes an operation answers it with, and when (for
    OpenAPI: what a client can act on when the rule is more than its schema says)."""
    listed = "; ".join(f"`{code}` {when}" for code, when in codes.items())
    examples = {
        code: {"summary": when, "value": {"error": {"code": code, "message": when}}}
        for code, when in codes.items()
    }
    return {
        status: {
            "model": ErrorEnvelope,
            "description": f"{ERROR_STATUSES[status]}. Codes: {listed}",
            "content": {"application/json": {"examples": examples}},
        }
    }


def not_found(what: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"{what} not found")


def conflict(code: str, message: str) -> ApiError:
    return ApiError(409, code, message)


def unauthorized(message: str = "sign in first") -> ApiError:
    return ApiError(401, "UNAUTHORIZED", message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(code: str, message: str) -> ApiError:
    return ApiError(403, code, message)


def unavailable(code: str, message: str, *, retry_after_s: int = 5) -> ApiError:
    return ApiError(503, code, message, headers={"Retry-After": str(retry_after_s)})
