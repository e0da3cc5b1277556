"""An object on its way from the origin into an edge's cache, served while it arrives: the
fill writes the origin's chunks to a hidden part file and every request that missed the object
reads that file behind it, so a viewer's first byte waits for the origin's first chunk, not
for the whole segment, and however many viewers miss at once the origin sends it once.

Each reader holds its own descriptor of the part file (a `dup` taken while the fill runs), so
the rename into the cache, an eviction, or a failed fill's unlink never pulls the bytes from
under a response on its way. A fill that fails after the first byte went out ends those
responses short of their Content-Length, which players take as a failed download and retry;
nothing half-written is ever renamed into the cache (cache.py)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from aiohttp import web

from cinemesh.platform.media_store import OriginUnavailable
from cinemesh.services.edge.delivery import send_file

READ_CHUNK = 256 * 1024


class Fill:
    """One origin fetch in progress: how many bytes of the part file are written so far."""

    def __init__(self, key: str, part: Path) -> None:
        self.key = key
        self.part = part
        self.size: int | None = None  # known once the origin answers, before its bytes
        self.written = 0
        self.fd: int | None = None  # the part file, open while the fill runs
        self.error: BaseException | None = None
        self.done = False
        self.task: asyncio.Task[None] | None = None
        self.forced = False  # kept whatever its popularity (a fill ahead of demand)
        self.joined = 0  # requests waiting for the origin's answer, each to take a descriptor
        self._moved = asyncio.Event()

    def moved(self) -> None:
        """Wake every reader: more bytes, the size, or the end."""
        woken, self._moved = self._moved, asyncio.Event()
        woken.set()

    async def join(self) -> FillReader:
        """A reader of the bytes from the start, once the origin has answered with the object's
        size; raises what it answered otherwise (FileNotFoundError: no such object;
        OriginUnavailable). The part file stays open until every request that joined has its
        own descriptor, however soon the fill ends."""
        self.joined += 1
        try:
            while self.size is None and not self.done:
                await self._moved.wait()
            self.raise_error()
            assert self.fd is not None
            return FillReader(self, os.dup(self.fd))
        finally:
            self.joined -= 1
            if self.done and not self.joined:
                self._close()

    def finish(self) -> None:
        """The fill has ended, whole or not: wake every reader."""
        self.done = True
        if not self.joined:
            self._close()
        self.moved()

    def _close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def raise_error(self) -> None:
        if self.error is None:
            return
        if isinstance(self.error, FileNotFoundError):
            raise FileNotFoundError(self.key)
        raise OriginUnavailable(str(self.error) or type(self.error).__name__)

    async def progress(self, position: int) -> None:
        """Wait until more than `position` bytes are written or the fill has ended."""
        while self.written <= position and not self.done:
            await self._moved.wait()


class FillReader:
    """One response's view of a fill: streams the bytes as they are written."""

    def __init__(self, fill: Fill, fd: int) -> None:
        self.fill = fill
        self.fd = fd

    async def send(self, request: web.Request, headers: dict[str, str]) -> web.StreamResponse:
        """The whole object as it arrives; a HEAD, Range or conditional request waits for the
        whole object and is answered from the finished file by the sender of cached files
        (delivery.send_file, with its Range and ETag logic)."""
        if request.method == "GET" and not _wants_part(request):
            return await self._stream(request, headers)
        try:
            await self.finished()
        except BaseException:
            os.close(self.fd)
            raise
        return await send_file(request, self.fd, headers)

    async def finished(self) -> int:
        """Wait for the whole object; answers the descriptor, at its start (raises what the
        fill met: FileNotFoundError, OriginUnavailable)."""
        while not self.fill.done:
            await self.fill.progress(self.fill.written)
        self.fill.raise_error()
        os.lseek(self.fd, 0, os.SEEK_SET)  # the writer's offset, which a dup shares
        return self.fd

    async def _stream(self, request: web.Request, headers: dict[str, str]) -> web.StreamResponse:
        size = self.fill.size or 0
        response = web.StreamResponse(status=200, headers=headers)
        response.headers["Accept-Ranges"] = "bytes"
        response.content_length = size
        position = 0
        try:
            await response.prepare(request)
            while position < size:
                await self.fill.progress(position)
                if self.fill.written <= position:  # ended short: the origin failed mid-way
                    break
                count = min(self.fill.written - position, READ_CHUNK)
                chunk = os.pread(self.fd, count, position)
                if not chunk:
                    break
                await response.write(chunk)
                position += len(chunk)
            if position < size:
                _cut_short(request)
                return response
            await response.write_eof()
        except ConnectionError:  # the viewer went away; the fill goes on for the others
            pass
        finally:
            os.close(self.fd)
        return response


def _wants_part(request: web.Request) -> bool:
    return any(h in request.headers for h in ("Range", "If-None-Match", "If-Range"))


def _cut_short(request: web.Request) -> None:
    """Close the connection under a response that cannot be finished: the player sees fewer
    bytes than the Content-Length promised and asks again (here or at the next edge)."""
    if request.transport is not None:
        request.transport.close()
