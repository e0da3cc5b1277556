"""The edge's hot path, a segment on its way: the file (or a Range of it) goes out with
sendfile(2) straight on the socket, and only what the socket could not take at once waits on
the event loop (`loop.sendfile`). Measured under wrk (bench/edge_bench.py, py-spy), the
asyncio machinery around one sendfile was as costly as the system call itself; the counters
of every answer are looked up once, not per request. The fast path's files (fast_path.py) are
kept open here with their answer's head (KeptFiles)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from stat import S_ISREG
from typing import Any

from aiohttp import web

from cinemesh.platform.observability import HTTP_LATENCY, HTTP_REQUESTS

LABEL_SETS_KEPT = 1024
KEPT_CHECK_S = 5.0  # how long a kept descriptor is trusted before its path is looked at again


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


class KeptFile:
    """An open media file and the head of its whole answer, ready for the fast path
    (fast_path.py). `users` counts the answers sending it: a file retired meanwhile (replaced,
    or pushed out by newer ones) is closed by the last of them."""

    __slots__ = ("checked_at", "fd", "head", "identity", "retired", "size", "users")

    def __init__(self, fd: int, stat: os.stat_result, headers: dict[str, str]) -> None:
        self.fd = fd
        self.size = stat.st_size
        self.identity = _identity(stat)
        self.checked_at = time.monotonic()
        self.users = 0
        self.retired = False
        lines = [
            "HTTP/1.1 200 OK",
            *(f"{name}: {value}" for name, value in headers.items()),
            f'ETag: "{stat.st_mtime_ns:x}-{stat.st_size:x}"',
            "Accept-Ranges: bytes",
            f"Content-Length: {stat.st_size}",
        ]
        self.head = ("\r\n".join(lines) + "\r\n").encode("latin-1")

    def release(self) -> None:
        self.users -= 1
        if self.retired and not self.users:
            os.close(self.fd)

    def retire(self) -> None:
        self.retired = True
        if not self.users:
            os.close(self.fd)


class KeptFiles:
    """Descriptors of the files served most recently, kept open (at most `limit`) with their
    answer's head, as nginx's open_file_cache keeps them: a kept file is trusted for
    KEPT_CHECK_S, then its path is looked at again, and a file replaced or removed meanwhile is
    opened again or dropped."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._kept: OrderedDict[Path, KeptFile] = OrderedDict()

    def get(self, path: Path, headers: Callable[[], dict[str, str]]) -> KeptFile | None:
        kept = self._kept.get(path)
        if kept is not None:
            now = time.monotonic()
            if now - kept.checked_at < KEPT_CHECK_S:
                self._kept.move_to_end(path)
                return kept
            try:
                unchanged = _identity(os.stat(path, follow_symlinks=False)) == kept.identity
            except OSError:
                unchanged = False
            if unchanged:
                kept.checked_at = now
                self._kept.move_to_end(path)
                return kept
            self._kept.pop(path).retire()
        return self._open(path, headers)

    def _open(self, path: Path, headers: Callable[[], dict[str, str]]) -> KeptFile | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        stat = os.fstat(fd)
        if not S_ISREG(stat.st_mode):
            os.close(fd)
            return None
        kept = self._kept[path] = KeptFile(fd, stat, headers())
        while len(self._kept) > self.limit:
            self._kept.popitem(last=False)[1].retire()
        return kept


def _identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    return (stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size)


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
