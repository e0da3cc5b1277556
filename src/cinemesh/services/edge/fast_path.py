"""The edge's fast path. Every connection to the edge is accepted here, and the commonest
request by far, a plain GET or HEAD of a signed media file (no Range, no condition), is
answered here: the request head split by hand, the URL checked as everywhere
(contracts/signed_urls.py), the file's descriptor kept open (server.py's KeptFile), and the
answer sent as a prepared head and sendfile(2), with no request or response objects. Anything
else a connection asks (health, metrics, faults, a refused or capped URL, Range and
conditional requests, a request with a body, a cache miss still on its way from the origin)
hands that connection, with the bytes read so far, to the aiohttp application (server.py),
which answers it and every later request on it. Profiled under wrk (bench/edge_bench.py),
aiohttp's request, response and middleware machinery cost more than the system calls."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from typing import TYPE_CHECKING

from cinemesh.contracts.signed_urls import InvalidMediaUrl, verify
from cinemesh.platform.observability import logger

if TYPE_CHECKING:
    from cinemesh.services.edge.server import EdgeServer

log = logger("cinemesh.edge")

HEAD_LIMIT = 16 * 1024  # a longer request head is the application's to refuse
READ_SIZE = 64 * 1024
# aiohttp's keep-alive: a connection with no whole request head for this long is closed
IDLE_S = 75.0
ACCEPTS_AT_ONCE = 64
# what only the application answers: a body, a protocol switch, a part or a condition
NOT_PLAIN = frozenset(
    {
        "content-length",
        "transfer-encoding",
        "expect",
        "upgrade",
        "range",
        "if-range",
        "if-none-match",
        "if-modified-since",
        "if-match",
        "if-unmodified-since",
    }
)


class Asked:
    """A plain request's head: method, path (without the query) and whether to close."""

    __slots__ = ("close", "method", "path")

    def __init__(self, method: str, path: str, *, close: bool) -> None:
        self.method = method
        self.path = path
        self.close = close


def plain_request(head: bytes) -> Asked | None:
    """A GET or HEAD of a media path with no body, part or condition; None for anything else,
    which the application parses and answers (malformed heads included)."""
    lines = head.decode("latin-1").split("\r\n")
    start = lines[0].split(" ")
    if len(start) != 3 or start[2] != "HTTP/1.1" or start[0] not in ("GET", "HEAD"):
        return None
    if not start[1].startswith("/e/"):
        return None
    seen: set[str] = set()
    close = False
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        lowered = name.lower()
        if not colon or not name or name[0] in " \t" or name[-1] in " \t" or lowered in seen:
            return None
        if lowered in NOT_PLAIN:
            return None
        seen.add(lowered)
        if lowered == "connection":
            close = "close" in value.lower()
    if "host" not in seen:
        return None
    return Asked(start[0], start[1].split("?", 1)[0], close=close)


class HttpDate:
    """The Date header's line, made again once a second."""

    def __init__(self) -> None:
        self._second = 0
        self._line = b""

    def line(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._line = f"Date: {formatdate(now, usegmt=True)}\r\n".encode()
        return self._line


class FastPath:
    """Accepts the edge's connections and serves plain media requests on them."""

    def __init__(
        self, edge: EdgeServer, *, hand_over: Callable[[socket.socket, bytes], Awaitable[None]]
    ) -> None:
        self.edge = edge
        self.hand_over = hand_over
        self.date = HttpDate()
        self._listening: list[socket.socket] = []
        self._connections: dict[asyncio.Task[None], Connection] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def start(self, socks: tuple[socket.socket, ...], *, backlog: int) -> None:
        loop = asyncio.get_running_loop()
        for sock in socks:
            sock.setblocking(False)
            sock.listen(backlog)
            loop.add_reader(sock.fileno(), self._accept, sock)
            self._listening.append(sock)
        self._sweeper = loop.create_task(self._close_idle())

    def _accept(self, listening: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(ACCEPTS_AT_ONCE):
            try:
                sock, _address = listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of descriptors, or the peer gave up: try later
                if exc.errno not in (errno.ECONNABORTED, errno.EPROTO):
                    log.warning("accept failed", error=str(exc))
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = Connection(self, sock)
            task = loop.create_task(connection.serve())
            self._connections[task] = connection
            task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._connections.pop(task, None)

    async def _close_idle(self) -> None:
        while True:
            await asyncio.sleep(IDLE_S / 5)
            now = time.monotonic()
            for task, connection in list(self._connections.items()):
                if connection.idle_since is not None and now - connection.idle_since > IDLE_S:
                    task.cancel()

    async def stop(self, *, timeout_s: float, accepted_grace_s: float = 0.0) -> None:
        """Accept no more; after `accepted_grace_s`, close idle connections, and those
        answering once done (or when `timeout_s` has passed). The grace is for a connection
        accepted a moment ago whose request is still on its way: closed as idle, its caller
        would see no answer (platform/drain.py has the same wait for uvicorn)."""
        loop = asyncio.get_running_loop()
        for sock in self._listening:
            loop.remove_reader(sock.fileno())
            sock.close()
        self._listening.clear()
        if self._sweeper is not None:
            self._sweeper.cancel()
        if accepted_grace_s > 0:
            await asyncio.sleep(accepted_grace_s)
        for task, connection in list(self._connections.items()):
            connection.closing = True
            if connection.idle_since is not None:
                task.cancel()
        if self._connections:
            _done, pending = await asyncio.wait(list(self._connections), timeout=timeout_s)
            for task in pending:
                task.cancel()


class Connection:
    """One client's connection while the fast path answers it."""

    def __init__(self, fast: FastPath, sock: socket.socket) -> None:
        self.fast = fast
        self.sock = sock
        self.idle_since: float | None = time.monotonic()
        self.closing = False

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        sock = self.sock
        buffered = b""
        handed_over = False
        try:
            while not self.closing:
                end = buffered.find(b"\r\n\r\n")
                while end < 0:
                    if len(buffered) > HEAD_LIMIT:
                        break
                    if self.idle_since is None:  # a head coming slowly counts as idle
                        self.idle_since = time.monotonic()
                    chunk = await loop.sock_recv(sock, READ_SIZE)
                    if not chunk:
                        return
                    buffered += chunk
                    end = buffered.find(b"\r\n\r\n")
                self.idle_since = None
                asked = plain_request(buffered[:end]) if end >= 0 else None
                if asked is None or not await self._answer(asked):
                    handed_over = True
                    await self.fast.hand_over(sock, buffered)
                    return
                buffered = buffered[end + 4 :]
                if asked.close:
                    return
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            if not handed_over:
                sock.close()

    async def _answer(self, asked: Asked) -> bool:
        """Serve the file if the request is the fast path's to answer; False to hand it over."""
        edge = self.fast.edge
        started = time.perf_counter()
        try:
            media = verify(edge.key, asked.path, now=time.time())
        except InvalidMediaUrl:
            return False
        if edge.runtime.faults.active:
            return False
        kept = await edge.kept(media)
        if kept is None:
            return False
        closing = asked.close or edge.runtime.drain.active
        self.closing = self.closing or closing
        head = kept.head + self.fast.date.line()
        if self.closing:
            head += b"Connection: close\r\n"
        kept.users += 1
        try:
            if asked.method == "HEAD":
                await self._send(head + b"\r\n")
            else:
                await self._send(head + b"\r\n", more=True)
                await self._sendfile(kept.fd, kept.size)
        finally:
            kept.release()
        edge.observed.record("/e/", asked.method, 200, time.perf_counter() - started)
        return True

    async def _send(self, data: bytes, *, more: bool = False) -> None:
        """The head, held back for the body that follows (MSG_MORE, nginx's tcp_nopush)."""
        view = memoryview(data)
        flags = socket.MSG_MORE if more else 0
        while view:
            try:
                view = view[self.sock.send(view, flags) :]
            except (BlockingIOError, InterruptedError):
                await self._writable()

    async def _sendfile(self, fd: int, count: int) -> None:
        offset = 0
        out = self.sock.fileno()
        while offset < count:
            try:
                sent = os.sendfile(out, fd, offset, count - offset)
            except (BlockingIOError, InterruptedError):
                await self._writable()
                continue
            if not sent:  # the file is shorter than it was: end the answer short
                raise ConnectionResetError("file shrank")
            offset += sent

    async def _writable(self) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        fd = self.sock.fileno()
        loop.add_writer(fd, _resolve, future)
        try:
            await future
        finally:
            loop.remove_writer(fd)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
