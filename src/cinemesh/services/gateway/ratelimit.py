"""Per-IP rate limiting on `/api/`, before any work is done (per-account limits are applied
once a token is verified, in `Gateway.principal`)."""

from __future__ import annotations

from typing import Any

import orjson

from cinemesh.platform.ratelimit import TokenBuckets, retry_after_header


class IpRateLimit:
    def __init__(self, app: Any, *, buckets: TokenBuckets, trust_forwarded_for: bool) -> None:
        self.app = app
        self.buckets = buckets
        self.trust_forwarded_for = trust_forwarded_for

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        wait_s = self.buckets.take(self._client_ip(scope))
        if wait_s <= 0:
            await self.app(scope, receive, send)
            return
        body = orjson.dumps(
            {
                "error": {
                    "code": "RATE_LIMITED",
                    "message": "too many requests from this address; slow down",
                }
            }
        )
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

    def _client_ip(self, scope: Any) -> str:
        if self.trust_forwarded_for:
            for name, value in scope["headers"]:
                if name == b"x-forwarded-for":
                    return value.decode("latin-1").split(",")[0].strip()
        client = scope.get("client")
        return client[0] if client else "unknown"
