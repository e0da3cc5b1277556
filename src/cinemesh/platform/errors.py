"""The error envelope every API speaks: {"error": {"code", "message"}} with a proper status."""

from __future__ import annotations

from typing import Any


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
