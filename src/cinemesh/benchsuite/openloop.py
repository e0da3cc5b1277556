"""An open-loop load generator: requests are due at a set rate whatever the server does, the
way a crowd of viewers arrives, and each one's latency counts from when it was due, not from
when a connection was free to send it. A closed loop (wrk's: each connection waits for its
answer before the next request) slows down with the server it measures, which hides the
collapse an overload test is looking for.

It runs in a process of its own (`run_open_loop` starts it), on keep-alive HTTP/1.1
connections opened as needed up to a cap, against 127.0.0.1 only, and stops by itself: after
its phases, it waits at most `timeout_s` for the last answers. It reports each second's
offered requests, goodput (200s within `good_within_s`), shed answers (503) and latency."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

UNANSWERED = 0  # the status of a request whose connection broke before its answer
TIMED_OUT = -2  # the status of a request with no answer within the generator's timeout
NOT_CONNECTED = -3  # the status of a request for which no connection could be opened
FAILURE_NAMES = {UNANSWERED: "unanswered", TIMED_OUT: "timed out", NOT_CONNECTED: "not connected"}
# A reused keep-alive connection closed by the server before any byte of the answer: the
# server may have closed it as idle just as the request left (RFC 9112 9.3.1), so an idempotent
# request is sent once more on a new connection, as browsers and HTTP libraries do.
RESEND = -1
IDEMPOTENT = (b"GET ", b"HEAD ")
# Connections a surge's load opens before its clock starts (`open_ahead`). A gateway tier sits
# behind a load balancer that keeps its connections to the gateways open, so a surge arrives
# on them; a generator opening a thousand in the surge's first second measures a storm of
# handshakes instead (in CI it left a queue of seconds that the surge never drained).
LOAD_BALANCER_CONNECTIONS = 1000


@dataclass(frozen=True)
class Phase:
    seconds: float
    rate_per_s: float


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def encoded(self, host: str) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class Second:
    """What was due in one second of the run, and how it was answered."""

    offered: int = 0
    good: int = 0
    ok: int = 0
    shed: int = 0
    failed: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # what the failed ones were
    ok_latencies_ms: list[float] = field(default_factory=list)

    def add(self, status: int, latency_s: float, good_within_s: float) -> None:
        self.offered += 1
        if status == 200:
            self.ok += 1
            self.good += latency_s <= good_within_s
            self.ok_latencies_ms.append(latency_s * 1000)
        elif status == 503:
            self.shed += 1
        else:
            self.failed += 1
            self.failures[FAILURE_NAMES.get(status, str(status))] += 1

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.ok_latencies_ms)
        return {
            "offered": self.offered,
            "good": self.good,
            "ok": self.ok,
            "shed": self.shed,
            "failed": self.failed,
            "p50_ms": round(percentile(ordered, 0.50), 2),
            "p99_ms": round(percentile(ordered, 0.99), 2),
            **({"failures": dict(self.failures)} if self.failures else {}),
        }


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


Done = Callable[["_Connection", int], None]


class _Connection(asyncio.Protocol):
    """One keep-alive connection, one request at a time."""

    def __init__(self, done: Done) -> None:
        self.done = done
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.busy = False
        self.due = 0.0
        self.sent_at = 0.0
        self.request = b""
        self.answers = 0  # answered on this connection so far
        self.timed_out = False  # closed by the generator: its request waited past the timeout

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, request: bytes, due: float, now: float) -> None:
        assert self.transport is not None
        self.busy, self.due, self.sent_at, self.request = True, due, now, request
        self.buffer.clear()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        status = _complete_status(self.buffer)
        if status is not None:
            self.busy = False
            self.answers += 1
            if _asks_to_close(self.buffer) and self.transport is not None:
                self.transport.close()  # never reused: the server is closing its end
            self.done(self, status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.busy:
            self.busy = False
            resend = self.answers and not self.buffer and self.request.startswith(IDEMPOTENT)
            if self.timed_out:
                self.done(self, TIMED_OUT)
            else:
                self.done(self, RESEND if resend else UNANSWERED)

    @property
    def open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _asks_to_close(buffer: bytearray) -> bool:
    head = bytes(buffer[: buffer.find(b"\r\n\r\n")]).lower()
    return b"\r\nconnection: close" in head


def _complete_status(buffer: bytearray) -> int | None:
    """The status of the response in `buffer` once all of it is there."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = bytes(buffer[:head_end]).lower()
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line.startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
        elif line.startswith(b"transfer-encoding:") and b"chunked" in line:
            return int(head[9:12]) if buffer.endswith(b"0\r\n\r\n") else None
    if len(buffer) - head_end - 4 < length:
        return None
    return int(head[9:12])


class OpenLoop:
    """Sends `requests` in turn at each phase's rate (Poisson arrivals)."""

    def __init__(
        self,
        url: str,
        requests: list[Request],
        *,
        max_connections: int = 1024,
        timeout_s: float = 5.0,
        good_within_s: float = 0.3,
        seed: int = 26,
    ) -> None:
        parts = urlsplit(url)
        assert parts.hostname in ("127.0.0.1", "localhost"), "load only ever targets this machine"
        self.host, self.port = parts.hostname, parts.port or 80
        self.encoded = [r.encoded(f"{self.host}:{self.port}") for r in requests]
        self.max_connections = max_connections
        self.timeout_s = timeout_s
        self.good_within_s = good_within_s
        self.random = random.Random(seed)
        self.idle: deque[_Connection] = deque()
        self.busy: set[_Connection] = set()
        self.opening = 0
        self.waiting: deque[tuple[float, bytes]] = deque()  # due, no connection free yet
        self.seconds: dict[int, Second] = {}
        self.started = 0.0
        self.sent = 0

    async def run(self, phases: list[Phase], *, open_ahead: int = 0) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        await self._open_ahead(min(open_ahead, self.max_connections))
        self.started = loop.time()
        due = 0.0
        phase_end = 0.0
        for phase in phases:
            phase_end += phase.seconds
            while phase.rate_per_s > 0:
                due += self.random.expovariate(phase.rate_per_s)
                if due >= phase_end:
                    due = phase_end
                    break
                await self._wait_until(due)
                self._dispatch(due)
            due = phase_end
            await self._wait_until(phase_end)
        await self._drain(phase_end)
        return self.report()

    async def _open_ahead(self, count: int) -> None:
        """Open `count` idle connections before the clock starts, as a crowd that is already
        connected: a surge then measures the server's answers, not a storm of handshakes."""
        loop = asyncio.get_running_loop()
        opened = await asyncio.gather(
            *(
                loop.create_connection(lambda: _Connection(self._answered), self.host, self.port)
                for _ in range(count)
            ),
            return_exceptions=True,
        )
        self.idle.extend(got[1] for got in opened if not isinstance(got, BaseException))

    async def _wait_until(self, due: float) -> None:
        delay = self.started + due - asyncio.get_running_loop().time()
        if delay > 0.001:
            await asyncio.sleep(delay)
        self._expire()

    def _dispatch(self, due: float) -> None:
        request = self.encoded[self.sent % len(self.encoded)]
        self.sent += 1
        while self.idle:
            conn = self.idle.pop()
            if conn.open:
                self._send(conn, request, due)
                return
        self.waiting.append((due, request))
        if len(self.busy) + self.opening < self.max_connections and self.opening < len(
            self.waiting
        ):
            self.opening += 1
            asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(
                lambda: _Connection(self._answered), self.host, self.port
            )
        except OSError:
            self.opening -= 1
            if self.waiting:
                due, _ = self.waiting.popleft()
                self._record(due, NOT_CONNECTED)
            return
        self.opening -= 1
        self._next(conn)

    def _send(self, conn: _Connection, request: bytes, due: float) -> None:
        self.busy.add(conn)
        conn.send(request, due, asyncio.get_running_loop().time() - self.started)

    def _answered(self, conn: _Connection, status: int) -> None:
        self.busy.discard(conn)
        if status == RESEND:
            self.waiting.appendleft((conn.due, conn.request))
            self.opening += 1
            asyncio.get_running_loop().create_task(self._connect())
            return
        self._record(conn.due, status)
        if conn.open:
            self._next(conn)

    def _next(self, conn: _Connection) -> None:
        if self.waiting:
            due, request = self.waiting.popleft()
            self._send(conn, request, due)
        else:
            self.idle.append(conn)

    def _record(self, due: float, status: int) -> None:
        latency = asyncio.get_running_loop().time() - self.started - due
        self.seconds.setdefault(int(due), Second()).add(status, latency, self.good_within_s)

    def _expire(self) -> None:
        """Give up on requests due longer ago than the timeout (their connections close)."""
        now = asyncio.get_running_loop().time() - self.started
        for conn in [c for c in self.busy if now - c.due > self.timeout_s]:
            self.busy.discard(conn)
            conn.timed_out = True
            conn.close()  # connection_lost records it timed out
        while self.waiting and now - self.waiting[0][0] > self.timeout_s:
            due, _ = self.waiting.popleft()
            self._record(due, TIMED_OUT)

    async def _drain(self, ended: float) -> None:
        while (self.busy or self.waiting) and self._elapsed() < ended + self.timeout_s + 0.5:
            await asyncio.sleep(0.05)
            self._expire()
        for conn in [*self.busy, *self.idle]:
            conn.close()
        await asyncio.sleep(0)

    def _elapsed(self) -> float:
        return asyncio.get_running_loop().time() - self.started

    def report(self) -> dict[str, Any]:
        last = max(self.seconds, default=-1)
        per_second = [self.seconds.get(s, Second()).summary() for s in range(last + 1)]
        return {"per_second": per_second, "good_within_s": self.good_within_s}


def run_open_loop(
    url: str,
    requests: list[Request],
    phases: list[Phase],
    *,
    max_connections: int = 1024,
    timeout_s: float = 5.0,
    open_ahead: int = 0,
) -> list[dict[str, Any]]:
    """Run the generator in its own process (so the caller's threads do not slow it) and
    answer each second's summary."""
    with tempfile.TemporaryDirectory(prefix="cm-openloop-") as folder:
        spec = Path(folder) / "spec.json"
        out = Path(folder) / "out.json"
        spec.write_text(
            json.dumps(
                {
                    "url": url,
                    "requests": [
                        {"method": r.method, "path": r.path, "headers": r.headers} for r in requests
                    ],
                    "phases": [[p.seconds, p.rate_per_s] for p in phases],
                    "max_connections": max_connections,
                    "timeout_s": timeout_s,
                    "open_ahead": open_ahead,
                }
            )
        )
        limit_s = sum(p.seconds for p in phases) + timeout_s + 60
        subprocess.run(
            [sys.executable, "-m", "cinemesh.benchsuite.openloop", str(spec), str(out)],
            check=True,
            timeout=limit_s,
        )
        per_second: list[dict[str, Any]] = json.loads(out.read_text())["per_second"]
        return per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text())
    generator = OpenLoop(
        spec["url"],
        [Request(r["method"], r["path"], r["headers"]) for r in spec["requests"]],
        max_connections=spec["max_connections"],
        timeout_s=spec["timeout_s"],
    )
    phases = [Phase(seconds, rate) for seconds, rate in spec["phases"]]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    started = time.monotonic()
    report = asyncio.run(generator.run(phases, open_ahead=spec.get("open_ahead", 0)))
    report["wall_s"] = round(time.monotonic() - started, 2)
    args.out.write_text(json.dumps(report))


if __name__ == "__main__":
    main()


@dataclass(frozen=True)
class Capacity:
    """The most goodput a ramp found, at which offered rate, and each step it took."""

    good_per_s: float
    at_rate_per_s: float
    steps: list[dict[str, float]]


def goodput_per_s(seconds: list[dict[str, Any]]) -> float:
    return float(sum(s["good"] for s in seconds)) / max(1, len(seconds))


def ramp_to_capacity(
    url: str,
    requests: list[Request],
    *,
    start_rate: float = 50.0,
    growth: float = 1.3,
    step_s: float = 2.0,
    warmup_s: float = 3.0,
    max_rate: float = 4000.0,
) -> Capacity:
    """Raise an open-loop rate step by step, after a warm-up at the first rate (first visits
    fill the caches), until goodput falls under 85% of what was offered or under 95% of the
    best step's twice running (a shared machine has bad seconds: a step that falls short is
    tried once more); the capacity is the best goodput a step had."""
    run_open_loop(url, requests, [Phase(warmup_s, start_rate)], timeout_s=2.0)
    best, best_rate, steps = 0.0, 0.0, []
    rate, misses = start_rate, 0
    while rate <= max_rate and misses < 2:
        seconds = run_open_loop(url, requests, [Phase(step_s, rate)], timeout_s=2.0)
        good = goodput_per_s(seconds)
        steps.append({"rate_per_s": round(rate, 1), "good_per_s": round(good, 1)})
        if good > best:
            best, best_rate = good, rate
        missed = good < 0.85 * rate or good < best * 0.95
        misses = misses + 1 if missed else 0
        if not missed:
            rate *= growth
        time.sleep(0.5)  # the last step's connections close
    return Capacity(round(best, 1), round(best_rate, 1), steps)
