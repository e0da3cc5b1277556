"""Chassis benchmarks, each against its baseline in the same run:
- the resilient client's cost per call as a ratio to a bare aiohttp call to the same server;
- a registry lookup per call (cached, and a fresh fetch);
- requests/s of one instance reached through registry discovery + client-side balancing vs
  the same client pointed straight at it.
The target is a small aiohttp server in its own process on 127.0.0.1. Prints JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from cinemesh.platform.discovery import Instance, RegistryDiscovery
from cinemesh.platform.http import CallPolicy, ServiceClient
from cinemesh.runner.layout import free_port

TARGET = """
from aiohttp import web
async def ping(request): return web.json_response({"ok": True})
app = web.Application(); app.router.add_get("/ping", ping)
web.run_app(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), print=None, access_log=None)
"""


class FixedDiscovery:
    def __init__(self, url: str) -> None:
        self.url = url

    async def instances(self, service: str) -> list[Instance]:
        return [Instance(service, "only", self.url)]

    async def all_instances(self) -> dict[str, list[Instance]]:
        return {}


def start_target() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", TARGET, str(port)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            import socket

            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}"


def start_registry(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "CINEMESH_PORT": str(port),
        "CINEMESH_DATA_DIR": str(data_dir),
        "CINEMESH_REGISTRY_URLS": "[]",
        "CINEMESH_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cinemesh", "serve", "registry"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            import urllib.request

            urllib.request.urlopen(url + "/health/ready", timeout=0.5)
            break
        except OSError:
            time.sleep(0.1)
    return proc, url


async def sequential_us(call: Any, n: int) -> float:
    for _ in range(min(200, n)):
        await call()
    started = time.perf_counter()
    for _ in range(n):
        await call()
    return (time.perf_counter() - started) / n * 1e6


async def throughput(call: Any, *, concurrency: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 3),
    }


async def run(quick: bool, *, tiny: bool = False) -> dict[str, Any]:
    n = 200 if tiny else 2000 if quick else 10000
    seconds = 0.5 if tiny else 2.0 if quick else 5.0
    target, url = start_target()
    data_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"cm-bench-{os.getpid()}"
    registry, registry_url = start_registry(data_dir)
    results: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

            async def bare() -> None:
                async with session.get(url + "/ping") as resp:
                    await resp.read()

            fixed = ServiceClient(
                "target",
                caller="bench",
                discovery=FixedDiscovery(url),
                session=session,
                policy=CallPolicy(),
                auth_headers={},
            )

            async def resilient() -> None:
                await fixed.request("GET", "/ping")

            bare_us = [await sequential_us(bare, n) for _ in range(3)]
            resilient_us = [await sequential_us(resilient, n) for _ in range(3)]
            results["resilient_client_overhead"] = {
                "baseline": "bare aiohttp GET to the same loopback server",
                "bare_us_per_call": round(statistics.median(bare_us), 1),
                "resilient_us_per_call": round(statistics.median(resilient_us), 1),
                "ratio": round(statistics.median(resilient_us) / statistics.median(bare_us), 3),
            }

            from cinemesh.platform.auth import SERVICE_TOKEN_HEADER, load_service_key, service_token

            headers = {
                SERVICE_TOKEN_HEADER: service_token(
                    load_service_key(data_dir=data_dir, configured="")
                )
            }
            discovery = RegistryDiscovery([registry_url], auth_headers=headers)
            async with session.put(
                f"{registry_url}/v1/instances/target/only",
                headers=headers,
                json={"service": "target", "instance_id": "only", "url": url, "lease_s": 300},
            ) as resp:
                assert resp.status == 200, await resp.text()
            await discovery.instances("target")
            cached_us = await sequential_us(lambda: discovery.instances("target"), n)

            async def fresh_lookup() -> None:
                discovery._cache.clear()
                await discovery.instances("target")

            fresh_us = await sequential_us(fresh_lookup, max(200, n // 10))
            results["registry_lookup"] = {
                "cached_us_per_call": round(cached_us, 2),
                "fresh_fetch_us_per_call": round(fresh_us, 1),
            }

            balanced = ServiceClient(
                "target",
                caller="bench",
                discovery=discovery,
                session=session,
                policy=CallPolicy(max_concurrent=1024),
                auth_headers={},
            )

            async def via_registry() -> None:
                await balanced.request("GET", "/ping")

            direct = await throughput(bare, concurrency=32, seconds=seconds)
            lb = await throughput(via_registry, concurrency=32, seconds=seconds)
            results["load_balanced_vs_direct"] = {
                "baseline": "bare aiohttp to the one instance, 32 concurrent",
                "direct": direct,
                "via_registry_and_balancer": lb,
                "ratio": round(lb["requests_per_s"] / direct["requests_per_s"], 3),
            }
            await discovery.close()
    finally:
        target.terminate()
        registry.terminate()
        target.wait()
        registry.wait()
    return results


def summarize(results: dict[str, Any]) -> list[dict[str, Any]]:
    overhead = results["resilient_client_overhead"]
    balanced = results["load_balanced_vs_direct"]
    return [
        {
            "measurement": "resilient client, µs per call",
            "baseline": overhead["baseline"],
            "value": overhead["resilient_us_per_call"],
            "baseline_value": overhead["bare_us_per_call"],
            "ratio": overhead["ratio"],
            "better": "lower",
        },
        {
            "measurement": "registry lookup, µs per call (cached / fresh)",
            "baseline": "-",
            "value": results["registry_lookup"]["cached_us_per_call"],
            "baseline_value": results["registry_lookup"]["fresh_fetch_us_per_call"],
            "ratio": None,
            "better": "lower",
        },
        {
            "measurement": "one instance via registry + balancer, requests/s",
            "baseline": balanced["baseline"],
            "value": balanced["via_registry_and_balancer"]["requests_per_s"],
            "baseline_value": balanced["direct"]["requests_per_s"],
            "ratio": balanced["ratio"],
            "better": "higher",
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run for tests")
    args = parser.parse_args()
    results = asyncio.run(run(args.quick or args.tiny, tiny=args.tiny))
    print(json.dumps({"benchmark": "platform", "summary": summarize(results), **results}, indent=2))


if __name__ == "__main__":
    main()
