"""The gateway's per-request cost of its rate limits, shared through Redis (`limits`' sliding
window counter, one round trip per limit) against in-process token buckets, side by side.

A request to `/api/` passes the per-client limit (the middleware, with the client's address
worked out from X-Forwarded-For behind a trusted proxy) and, once signed in, the per-account
one: both are run here, around an app that answers at once, with nothing else in the way. The
two configurations alternate round by round so that the machine's load falls on both alike.
Needs Redis (CINEMESH_REDIS_URL, default redis://127.0.0.1:6379/0). Prints JSON with the
microseconds per request of each and their ratio.

    .venv/bin/python bench/ratelimit_bench.py [--quick | --tiny] [--requests N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from typing import Any

from redis.asyncio import Redis

from cinemesh.services.gateway.public import (
    ClientAddress,
    ClientRateLimit,
    RateLimit,
    SharedWindows,
)

RATE, BURST = 1e6, 2e6  # never refuses: the cost of asking is what is measured
CLIENTS, ACCOUNTS = 250, 200


async def answer(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def discard(_message: Any) -> None:
    return None


async def nothing() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


class Gateway:
    """The two limits a request meets, as the gateway applies them."""

    def __init__(self, shared: SharedWindows | None) -> None:
        self.clients = RateLimit("client", rate_per_s=RATE, burst=BURST, shared=shared)
        self.accounts = RateLimit("account", rate_per_s=RATE, burst=BURST, shared=shared)
        self.middleware = ClientRateLimit(
            self.signed_in, limit=self.clients, addresses=ClientAddress(["10.0.0.0/8"])
        )

    async def signed_in(self, scope: Any, receive: Any, send: Any) -> None:
        await self.accounts.take(scope["account"])
        await answer(scope, receive, send)

    async def request(self, n: int) -> None:
        scope = {
            "type": "http",
            "path": "/api/v1/home",
            "client": ("10.0.0.2", 50000),  # the ingress
            "headers": [(b"x-forwarded-for", f"203.0.113.{n % CLIENTS}".encode())],
            "account": f"account-{n % ACCOUNTS}",
        }
        await self.middleware(scope, nothing, discard)


async def per_request_us(gateway: Gateway, requests: int) -> float:
    started = time.perf_counter()
    for n in range(requests):
        await gateway.request(n)
    return (time.perf_counter() - started) / requests * 1e6


async def round_trip_us(client: Redis, requests: int) -> float:
    """One bare PING to the same Redis, for scale: what the machine makes of a round trip."""
    started = time.perf_counter()
    for _ in range(requests):
        await client.ping()
    return (time.perf_counter() - started) / requests * 1e6


async def measure(redis_url: str, requests: int, rounds: int) -> dict[str, Any]:
    # a patient client: a slow answer counted locally would flatter the shared limiter
    shared = SharedWindows(redis_url, prefix=f"bench-{uuid.uuid4().hex[:8]}", timeout_s=5)
    local, redis = Gateway(None), Gateway(shared)
    ping = Redis.from_url(redis_url)
    await per_request_us(redis, 200)  # connect, load the scripts
    if await shared.hit(redis.clients.item, "probe", "probe") is None:
        raise SystemExit(f"Redis at {redis_url} does not answer")
    timings: dict[str, list[float]] = {"in_process": [], "redis": [], "redis_ping": []}
    for _ in range(rounds):
        timings["in_process"].append(await per_request_us(local, requests))
        timings["redis"].append(await per_request_us(redis, requests))
        timings["redis_ping"].append(await round_trip_us(ping, requests))
    await ping.aclose()
    medians = {name: statistics.median(values) for name, values in timings.items()}
    return {
        "requests_per_round": requests,
        "rounds": rounds,
        "us_per_request": {name: round(value, 1) for name, value in medians.items()},
        "us_per_request_each_round": {
            name: [round(value, 1) for value in values] for name, values in timings.items()
        },
        "shared_over_in_process": round(medians["redis"] / medians["in_process"], 1),
        "added_us_per_request": round(medians["redis"] - medians["in_process"], 1),
        "limits_per_request": 2,
        "redis_round_trip_us": round(medians["redis_ping"], 1),
        # requests Redis did not answer in time (counted in process instead): 0 for a fair run
        "fell_back_locally": shared.unanswered,
    }


def summarize(found: dict[str, Any]) -> list[dict[str, Any]]:
    us = found["us_per_request"]
    return [
        {
            "measurement": "gateway rate limits, µs per request (client + account), Redis",
            "baseline": "in-process token buckets",
            "value": us["redis"],
            "baseline_value": us["in_process"],
            "ratio": found["shared_over_in_process"],
            "better": "lower",
        },
        {
            "measurement": "gateway rate limits, µs per request, Redis",
            "baseline": "two bare Redis PINGs",
            "value": us["redis"],
            "baseline_value": round(2 * us["redis_ping"], 1),
            "ratio": round(us["redis"] / (2 * us["redis_ping"]), 2),
            "better": "lower",
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run for tests")
    parser.add_argument("--requests", type=int)
    parser.add_argument("--rounds", type=int)
    parser.add_argument(
        "--redis", default=os.environ.get("CINEMESH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()
    requests, rounds = (100, 1) if args.tiny else (500, 3) if args.quick else (2000, 5)
    found = asyncio.run(measure(args.redis, args.requests or requests, args.rounds or rounds))
    print(json.dumps({"benchmark": "ratelimit", "summary": summarize(found), **found}, indent=2))


if __name__ == "__main__":
    main()
