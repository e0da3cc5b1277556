"""The edge's hot path, a segment on its way: the file (or a Range of it) goes out with
sendfile(2) straight on the socket, and only what the socket could not take at once waits on
the event loop (`loop.sendfile`). Measured under wrk (bench/edge_bench.py, py-spy), the
asyncio machinery around one sendfile was as costly as the system call itself; the counters
of every answer are looked up once, not per request."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from cinemesh.platform.observability import HTTP_LATENCY, HTTP_REQUESTS

LABEL_SETS_KEPT = 1024


async def send_file(request: web.Request, fd: int, headers: dict[str, str]) -> web.StreamResponse:
    """The open file (or the requested range of it) with sendfile(2), no thread hops: media
    files are small, immutable and hot in the page cache, so reading one does not block.
    The file descriptor is closed when the answer is sent."""
    with open(fd, "rb", buffering=0) as handle:
        stat = os.fstat(fd)
        size = stat.st_size
        etag = f'"{stat.st_mtime_ns:x}-{size:x}"'
        asked = request.headers
        if etag in asked.get("If-None-Match", ""):
            return web.Response(status=304, headers={**headers, "ETag": etag})
        status, start, count = 200, 0, size
        if "Range" in asked:
            try:
                wanted = request.http_range
            except ValueError:  # a malformed Range is ignored (RFC 9110 14.2)
                wanted = slice(None, None)
            if wanted != slice(None, None) and asked.get("If-Range", etag) == etag:
                first, last = _bounds(wanted, size)
                if first is None or last is None:
                    return web.Response(
                        status=416, headers={**headers, "Content-Range": f"bytes */{size}"}
                    )
                status, start, count = 206, first, last - first + 1
        headers = {**headers, "ETag": etag, "Accept-Ranges": "bytes"}
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{start + count - 1}/{size}"
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = count
        transport = request.transport
        body = request.method != "HEAD" and count and transport is not None
        sock = transport.get_extra_info("socket") if body and transport is not None else None
        try:
            with _corked(sock):
                await response.prepare(request)
                if body and transport is not None:
                    await _sendfile(transport, handle, start, count)
            await response.write_eof()
        except ConnectionError:  # the player went away mid-segment: nobody to answer
            pass
        return response


@contextlib.contextmanager
def _corked(sock: Any) -> Iterator[None]:
    """The headers wait in the kernel for the body (TCP_CORK, nginx's `tcp_nopush`): one
    packet and one wake-up of the player instead of a small one ahead of the segment."""
    if sock is None:
        yield
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    except OSError:
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)


async def _sendfile(transport: asyncio.Transport, handle: Any, start: int, count: int) -> None:
    """As much as the socket takes now in one system call, the rest through the event loop
    (which waits for the socket to drain)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and not transport.get_write_buffer_size():
        try:
            sent = os.sendfile(sock.fileno(), handle.fileno(), start, count)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:  # e.g. EPIPE: the player is gone
            raise ConnectionResetError(str(exc)) from exc
        start, count = start + sent, count - sent
        if not count:
            return
    await asyncio.get_running_loop().sendfile(transport, handle, start, count)


def _bounds(wanted: slice, size: int) -> tuple[int | None, int | None]:
    """First and last byte of a single Range, or (None, None) when it cannot be satisfied."""
    start, stop = wanted.start, wanted.stop
    if start is not None and start < 0:  # bytes=-N: the last N bytes
        return (max(0, size + start), size - 1) if size else (None, None)
    first = start or 0
    last = size - 1 if stop is None else min(stop, size) - 1
    if first >= size or last < first:
        return None, None
    return first, last


class Observations:
    """The edge's request counter and latency histogram, each label set's child kept (the
    label lookup took a lock and built the key on every request)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._counted: dict[tuple[str, str, int], Any] = {}
        self._timed: dict[str, Any] = {}

    def record(self, route: str, method: str, status: int, seconds: float) -> None:
        counted = self._counted.get((route, method, status))
        if counted is None:
            counted = HTTP_REQUESTS.labels(self.service, route, method, str(status))
            if len(self._counted) < LABEL_SETS_KEPT:  # methods come from the client
                self._counted[(route, method, status)] = counted
        counted.inc()
        timed = self._timed.get(route)
        if timed is None:
            timed = self._timed[route] = HTTP_LATENCY.labels(self.service, route)
        timed.observe(seconds)
