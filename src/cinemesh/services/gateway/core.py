"""What every gateway route uses: the caller's identity, calls to services with their
fallback story, and relaying a service's answer to the client unchanged."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from fastapi import Request, Response

from cinemesh.platform.auth import Principal, bearer_token
from cinemesh.platform.cache import Cache, make_cache
from cinemesh.platform.errors import ApiError, not_found
from cinemesh.platform.http import Response as ServiceResponse
from cinemesh.platform.http import ServiceUnavailable
from cinemesh.platform.ratelimit import retry_after_header
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.treatments import carry_treatments
from cinemesh.services.gateway.experiments import Allocator
from cinemesh.services.gateway.kept_parts import KeptParts
from cinemesh.services.gateway.ratelimit import ClientAddress, RateLimit, shared_windows
from cinemesh.services.gateway.recent_pages import RecentPages
from cinemesh.services.gateway.settings import GatewaySettings

OWNERSHIP_TTL_S = 30.0
OWNERSHIP_STALE_S = 600.0  # how long a seen profile stands in while profiles is down
RELAYED_HEADERS = ("retry-after", "content-type", "cache-control", "location")


class Gateway:
    """The gateway's state shared by its route modules."""

    def __init__(self, runtime: ServiceRuntime, settings: GatewaySettings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.cache: Cache = make_cache(
            runtime.settings.redis_url, prefix=f"{runtime.settings.bus_namespace}:gateway:"
        )
        shared = shared_windows(
            runtime.settings.redis_url, prefix=f"{runtime.settings.bus_namespace}:gateway:limits"
        )
        self.account_limits = RateLimit(
            "account",
            rate_per_s=settings.rate_per_account,
            burst=settings.burst_per_account,
            shared=shared,
        )
        self.client_limits = RateLimit(
            "client", rate_per_s=settings.rate_per_ip, burst=settings.burst_per_ip, shared=shared
        )
        self.client_addresses = ClientAddress(settings.trusted_proxies)
        self.home_pages = RecentPages(settings.home_page_fresh_s)
        self.parts = KeptParts.listening(
            runtime,
            max_age_s=settings.kept_reads_s,
            answered_within_s=settings.answered_within_s,
        )
        self.allocator = Allocator(self)
        self._owned: OrderedDict[tuple[str, str], tuple[float, dict[str, Any]]] = OrderedDict()

    async def principal(self, request: Request) -> Principal:
        """FastAPI dependency: the signed-in account (401 otherwise), within its rate limit."""
        who = await self.runtime.principal(request)
        wait_s = await self.account_limits.take(who.account_id)
        if wait_s > 0:
            raise ApiError(
                429,
                "RATE_LIMITED",
                "too many requests for this account; slow down",
                headers={"Retry-After": retry_after_header(wait_s)},
            )
        request.state.principal = who
        return who

    async def admin(self, request: Request) -> Principal:
        who = await self.principal(request)
        if not who.is_admin:
            raise ApiError(403, "ADMIN_ONLY", "this needs an admin account")
        return who

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        request: Request | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        timeout_s: float | None = None,
        idempotent: bool | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> ServiceResponse:
        """Call a service on the user's behalf (their token travels along); 503 if it can't.
        `body` streams a raw body (an upload) instead of `json`."""
        headers = dict(headers or {})
        if request is not None and request.headers.get("authorization"):
            headers["Authorization"] = f"Bearer {bearer_token(request)}"
        if request is not None and getattr(request.state, "request_id", None):
            headers["X-Request-Id"] = request.state.request_id
        try:
            return await self.runtime.clients(service).request(
                method,
                path,
                json=json,
                params=params,
                headers=headers,
                timeout_s=timeout_s,
                idempotent=idempotent,
                body=body,
            )
        except ServiceUnavailable:
            raise unavailable(service) from None
        finally:
            self._note_change(request)

    def _note_change(self, request: Request | None) -> None:
        """A member's write went through: their kept home pages may be out of date now."""
        if request is None or request.method in ("GET", "HEAD"):
            return
        who = getattr(request.state, "principal", None)
        if who is not None:
            self.home_pages.forget(who.account_id)
            self.parts.forget_account(who.account_id)

    async def require_profile(
        self, request: Request, who: Principal, profile_id: str
    ) -> dict[str, Any]:
        """The caller's profile; 404 unless it belongs to their account (never 200, never 500).
        From here on every call the request makes carries the profile's experiment treatments
        (experiments.py: kept a while per profile, control when experiments cannot answer)."""
        profile = await self._owned_profile(request, who, profile_id)
        carry_treatments((await self.allocator.of(profile_id)).treatments)
        return profile

    async def _owned_profile(
        self, request: Request, who: Principal, profile_id: str
    ) -> dict[str, Any]:
        """While profiles cannot answer, a profile this gateway saw in the last few minutes is
        still known: an overloaded profiles service must not turn every page into a 503."""
        key = (who.account_id, profile_id)
        seen = self._owned.get(key)
        age = time.monotonic() - seen[0] if seen is not None else float("inf")
        if seen is not None and age < OWNERSHIP_TTL_S:
            return seen[1]
        try:
            response: ServiceResponse | None = await self.call(
                "profiles", "GET", f"/v1/profiles/{profile_id}", request=request, timeout_s=1.0
            )
        except ApiError:  # `call` raises only the service's unavailability
            response = None
        if response is not None and 400 <= response.status < 500:
            self._owned.pop(key, None)
            raise not_found("profile")
        if response is None or response.status != 200:
            if seen is not None and age < OWNERSHIP_STALE_S:
                return seen[1]
            raise unavailable("profiles")
        profile: dict[str, Any] = response.json()
        self._owned[key] = (time.monotonic(), profile)
        self._owned.move_to_end(key)
        while len(self._owned) > 100_000:
            self._owned.popitem(last=False)
        return profile

    def forget_profile(self, who: Principal, profile_id: str) -> None:
        self._owned.pop((who.account_id, profile_id), None)


def relay(response: ServiceResponse) -> Response:
    """Answer the client with the service's status and body."""
    headers = {k.lower(): v for k, v in response.headers.items() if k.lower() in RELAYED_HEADERS}
    headers.setdefault("content-type", "application/json")
    return Response(content=response.body, status_code=response.status, headers=headers)


def unavailable(service: str) -> ApiError:
    return ApiError(
        503,
        f"{service.upper()}_UNAVAILABLE",
        f"{service} is unavailable right now; the rest of cinemesh keeps working, try again shortly",
        headers={"Retry-After": "5"},
    )
