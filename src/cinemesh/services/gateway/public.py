"""What code outside the gateway may use of it: the rate limits (bench/ratelimit_bench.py)."""

from __future__ import annotations

from cinemesh.services.gateway.ratelimit import (
    ClientAddress,
    ClientRateLimit,
    RateLimit,
    SharedWindows,
)

__all__ = ["ClientAddress", "ClientRateLimit", "RateLimit", "SharedWindows"]
