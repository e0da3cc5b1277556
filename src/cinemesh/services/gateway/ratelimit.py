"""Rate limits per client and per account (the per-account one is applied once a token is
verified, in `Gateway.principal`; the per-client one here, before any work is done).

Behind a load balancer every request arrives from the balancer's address: the client is then
the rightmost `X-Forwarded-For` address that is not one of the trusted proxies (each proxy
appends the peer it saw, so what a client wrote itself stays on the left and counts for
nothing), and the header is ignored from anyone else. With several gateway instances the
buckets live in Redis (CINEMESH_REDIS_URL) through the `limits` library, so a client's limit
does not grow with the number of instances; while Redis cannot answer, each instance falls
back to its own buckets for a moment, never to an error."""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Iterable
from typing import Any

import orjson

from cinemesh.platform.observability import logger
from cinemesh.platform.ratelimit import TokenBuckets, retry_after_header

log = logger("gateway.ratelimit")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# after Redis failed to answer, how long an instance counts on its own before asking again
SHARED_RETRY_S = 2.0
REDIS_TIMEOUT_S = 0.25


class ClientAddress:
    """Who sent a request: its peer, or behind trusted proxies the rightmost address of
    `X-Forwarded-For` that is not a trusted proxy's."""

    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self.trusted = [ipaddress.ip_network(cidr, strict=False) for cidr in trusted_proxies]

    def of(self, scope: dict[str, Any]) -> str:
        client = scope.get("client")
        peer = str(client[0]) if client else "unknown"
        if not self.trusted or not self.is_trusted(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for(scope).split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self.is_trusted(hop):
                return hop if is_address(hop) else peer
        return hops[0] if hops else peer

    def is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)


def forwarded_for(scope: dict[str, Any]) -> str:
    """Every X-Forwarded-For header of the request, as one list."""
    values = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
    return ",".join(values)


def is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class SharedWindows:
    """Sliding-window counters in Redis that every gateway instance shares (`limits`); None
    from `hit` means Redis could not answer and the caller counts on its own."""

    def __init__(self, redis_url: str, *, prefix: str, timeout_s: float = REDIS_TIMEOUT_S) -> None:
        from limits.aio.storage import RedisStorage
        from limits.aio.strategies import SlidingWindowCounterRateLimiter

        self.storage = RedisStorage(
            "async+" + redis_url,
            implementation="redispy",
            key_prefix=prefix,
            wrap_exceptions=True,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
        )
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)
        self._away_until = 0.0
        self.unanswered = 0  # requests counted locally because Redis was away

    async def hit(self, item: Any, *key: str) -> float | None:
        """0.0 when allowed, the seconds to wait when not, None while Redis is away."""
        if time.monotonic() < self._away_until:
            self.unanswered += 1
            return None
        try:
            if await self.limiter.hit(item, *key):
                return 0.0
            stats = await self.limiter.get_window_stats(item, *key)
        except Exception as exc:  # limits wraps the client's errors; any failure means away
            if self._away_until == 0.0:
                log.warning("shared rate limits unavailable; counting locally", error=str(exc))
            self._away_until = time.monotonic() + SHARED_RETRY_S
            self.unanswered += 1
            return None
        if self._away_until:
            log.info("shared rate limits back")
            self._away_until = 0.0
        return max(0.001, stats.reset_time - time.time())


def shared_windows(redis_url: str, *, prefix: str) -> SharedWindows | None:
    """The shared counters when Redis is configured (and `limits` installed), else None."""
    if not redis_url:
        return None
    try:
        return SharedWindows(redis_url, prefix=prefix)
    except ImportError:
        log.warning("the `limits` package is missing: rate limits are per instance")
        return None


class RateLimit:
    """One limit (per client, per account) over many keys: `rate_per_s` with bursts up to
    `burst`, shared through `shared` when there is one, else (and while it is away) kept in
    this process. A rate of 0 means no limit."""

    def __init__(
        self, name: str, *, rate_per_s: float, burst: float, shared: SharedWindows | None
    ) -> None:
        self.name = name
        self.local = TokenBuckets(rate_per_s=rate_per_s, burst=burst)
        self.shared = shared if rate_per_s > 0 else None
        if self.shared is not None:
            from limits import RateLimitItemPerSecond

            # the burst, renewed over the time the rate takes to fill it
            window_s = max(1, math.ceil(burst / rate_per_s))
            self.item = RateLimitItemPerSecond(max(1, int(burst)), window_s)

    async def take(self, key: str) -> float:
        """Spend one request; 0.0 when allowed, else the seconds until one is."""
        if self.shared is not None:
            wait_s = await self.shared.hit(self.item, self.name, key)
            if wait_s is not None:
                return wait_s
        return self.local.take(key)


class ClientRateLimit:
    """The per-client limit on `/api/`, as ASGI middleware; it also tells handlers who the
    client is (`request.state.client_address`)."""

    def __init__(self, app: Any, *, limit: RateLimit, addresses: ClientAddress) -> None:
        self.app = app
        self.limit = limit
        self.addresses = addresses

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        address = self.addresses.of(scope)
        scope.setdefault("state", {})["client_address"] = address
        wait_s = await self.limit.take(address)
        if wait_s <= 0:
            await self.app(scope, receive, send)
            return
        await too_many(send, "too many requests from this address; slow down", wait_s)


async def too_many(send: Any, message: str, wait_s: float) -> None:
    body = orjson.dumps({"error": {"code": "RATE_LIMITED", "message": message}})
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", retry_after_header(wait_s).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
