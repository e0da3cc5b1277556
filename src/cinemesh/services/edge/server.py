"""The edge's own HTTP server: bytes are the hot path, so a plain request for a media file is
answered by the fast path (fast_path.py: a prepared head and sendfile(2) from a descriptor kept
open), and everything else by an aiohttp application on the standard event loop, with no ASGI
layers in between: Range and conditional requests, capped playlists, refusals, cache fills,
and health, metrics and fault injection as on every service."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import socket
import time
from dataclasses import asdict
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from cinemesh.contracts.signed_urls import InvalidMediaUrl, MediaPath, verify
from cinemesh.platform.auth import SERVICE_TOKEN_HEADER, is_service_token
from cinemesh.platform.drain import ACCEPTED_GRACE_S
from cinemesh.platform.faults import FaultSpec
from cinemesh.platform.media_store import OriginUnavailable
from cinemesh.platform.observability import logger
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.edge.delivery import KeptFile, KeptFiles, Observations, send_file
from cinemesh.services.edge.fast_path import FastPath
from cinemesh.services.edge.playlists import Ladder

log = logger("cinemesh.edge")

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".vtt": "text/vtt",
}
PLAYLIST_CACHE = "public, max-age=60"
CACHE_CONTROL = {".m3u8": PLAYLIST_CACHE, ".vtt": "public, max-age=3600"}
IMMUTABLE = "public, max-age=31536000, immutable"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range, Accept-Ranges",
    "Timing-Allow-Origin": "*",
}
PREFLIGHT = {
    **CORS,
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Range, If-None-Match, If-Modified-Since",
    "Access-Control-Max-Age": "86400",
}
LADDERS_KEPT = 4096
FILES_KEPT = 100_000
FILES_OPEN = 1024  # descriptors of the most recently served files, kept open
BACKLOG = 2048


def error(
    status: int, code: str, message: str, *, headers: dict[str, str] | None = None
) -> web.Response:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    return web.Response(
        body=body,
        status=status,
        content_type="application/json",
        headers={**CORS, **(headers or {})},
    )


def media_headers(file_name: str) -> dict[str, str]:
    """The headers of a media file's answer but for its size and validators."""
    suffix = PurePosixPath(file_name).suffix
    return {
        **CORS,
        "Content-Type": CONTENT_TYPES.get(suffix, "application/octet-stream"),
        "Cache-Control": CACHE_CONTROL.get(suffix, IMMUTABLE),
    }


def rewritten_or_refused(ladder: Ladder, media: MediaPath) -> bool:
    """Whether a capped scope changes the answer: its master playlist lists fewer renditions,
    and a file of a rendition above the cap is refused."""
    assert media.max_height is not None
    if media.file_parts == ("master.m3u8",):
        return True
    return len(media.file_parts) > 1 and not ladder.allows(media.file_parts[0], media.max_height)


class MediaFiles:
    """The asset folders under `<data_dir>/media/assets`, and their ladders (assets never
    change once published, so a parsed master playlist is kept)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = str(root)
        self._ladders: dict[str, Ladder] = {}
        self._located: dict[tuple[str, tuple[str, ...]], Path] = {}
        self._open = KeptFiles(FILES_OPEN)

    async def open(self, media: MediaPath) -> int | None:
        file = self.locate(media)
        if file is None:
            return None
        try:
            return os.open(file, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None

    def kept(self, media: MediaPath) -> KeptFile | None:
        file = self.locate(media)
        if file is None:
            return None
        return self._open.get(file, functools.partial(media_headers, media.file_parts[-1]))

    def locate(self, media: MediaPath) -> Path | None:
        """The file inside the asset's folder, or None (missing, or a link leading out).
        Published assets never change, so a file found once is remembered."""
        known = self._located.get((media.asset_id, media.file_parts))
        if known is not None:
            return known
        file = self.root.joinpath(media.asset_id, *media.file_parts)
        try:
            resolved = file.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not resolved.is_relative_to(self.root / media.asset_id) or not resolved.is_file():
            return None
        if len(self._located) >= FILES_KEPT:
            self._located.pop(next(iter(self._located)))
        self._located[(media.asset_id, media.file_parts)] = resolved
        return resolved

    async def ladder(self, asset_id: str) -> Ladder | None:
        known = self._ladders.get(asset_id)
        if known is not None:
            return known
        try:
            master = (self.root / asset_id / "master.m3u8").read_text(errors="replace")
        except OSError:
            return None
        if len(self._ladders) >= LADDERS_KEPT:
            self._ladders.pop(next(iter(self._ladders)))
        ladder = self._ladders[asset_id] = Ladder.parse(master)
        return ladder

    async def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.root.is_dir():
            raise RuntimeError("the media folder is missing")

    def report(self) -> dict[str, Any] | None:
        """No cache: the shared folder serves everything."""
        return None


class Streaming(Protocol):
    """A file still on its way into the edge's cache, served as it arrives (fills.py); what
    needs the whole file (Range, conditional) is sent with send_file once complete."""

    async def send(self, request: web.Request, headers: dict[str, str]) -> web.StreamResponse: ...


class Media(Protocol):
    """Where an edge finds an asset's files: the shared folder, or its cache of the origin."""

    @property
    def description(self) -> str: ...

    async def open(self, media: MediaPath) -> int | Streaming | None: ...

    def kept(self, media: MediaPath) -> KeptFile | None:
        """The file open and ready for the fast path when it is here now; None when the
        application is to answer (missing, or still to be filled from the origin)."""

    async def ladder(self, asset_id: str) -> Ladder | None: ...

    async def check(self) -> None: ...

    def report(self) -> dict[str, Any] | None:
        """The cache's numbers (hits, misses, bytes from cache and origin), when there is one."""


class EdgeServer:
    """One edge instance: verifies every media URL, then serves the file."""

    def __init__(self, runtime: ServiceRuntime, *, key: bytes, media: Media) -> None:
        self.runtime = runtime
        self.key = key
        self.media = media
        self.observed = Observations("edge")
        runtime.ready_check("media", media.check)

    # --- the app ---------------------------------------------------------------------------
    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._observe], handler_args={"max_field_size": 8190})
        app.router.add_route("GET", "/health/live", self.live)
        app.router.add_route("GET", "/health/ready", self.ready)
        app.router.add_route("GET", "/metrics", self.metrics)
        app.router.add_route("*", "/internal/faults", self.faults)
        app.router.add_route("*", "/e/{rest:.*}", self.serve_media)
        return app

    @web.middleware
    async def _observe(self, request: web.Request, handler: Any) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        route = "/e/" if request.path.startswith("/e/") else request.path
        try:
            response: web.StreamResponse = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            if exc.status == 404:
                return error(404, "NOT_FOUND", "not found")
            if exc.status == 405:
                return error(405, "METHOD_NOT_ALLOWED", "method not allowed")
            raise
        finally:
            if route not in (
                "/e/",
                "/health/live",
                "/health/ready",
                "/metrics",
                "/internal/faults",
            ):
                route = "unmatched"
            self.observed.record(route, request.method, status, time.perf_counter() - started)

    async def live(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "ok",
                "service": "edge",
                "instance": self.runtime.instance_id,
                "version": self.runtime.version,
            }
        )

    async def ready(self, _request: web.Request) -> web.Response:
        ok, checks = await self.runtime.readiness()
        body = {
            "status": "ok" if ok else "unavailable",
            "service": "edge",
            "instance": self.runtime.instance_id,
            "version": self.runtime.version,
            "checks": checks,
            "cache": self.media.report(),
        }
        return web.json_response(body, status=200 if ok else 503)

    async def metrics(self, _request: web.Request) -> web.Response:
        response = web.Response(body=generate_latest())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def faults(self, request: web.Request) -> web.Response:
        """`/internal/faults` as on every service: the service credential only."""
        presented = request.headers.get(SERVICE_TOKEN_HEADER, "")
        if not is_service_token(presented, self.runtime.service_token):
            return error(
                403, "SERVICE_CREDENTIAL_REQUIRED", "this endpoint is for cinemesh services only"
            )
        state = self.runtime.faults
        if request.method == "PUT":
            try:
                spec = FaultSpec.model_validate_json(await request.read())
            except ValidationError:
                return error(422, "INVALID_REQUEST", "latency_ms, error_rate, abort_rate")
            state.latency_ms, state.error_rate, state.abort_rate = (
                spec.latency_ms,
                spec.error_rate,
                spec.abort_rate,
            )
        elif request.method == "DELETE":
            state.latency_ms = state.error_rate = state.abort_rate = 0.0
        elif request.method != "GET":
            return error(405, "METHOD_NOT_ALLOWED", "GET, PUT or DELETE")
        return web.json_response(asdict(state))

    # --- media -----------------------------------------------------------------------------
    async def kept(self, media: MediaPath) -> KeptFile | None:
        """The file a plain request for verified `media` is answered with by the fast path;
        None when the application answers it (a capped view that changes the answer, a file
        not here)."""
        if media.max_height is not None:
            ladder = await self.media.ladder(media.asset_id)
            if ladder is not None and rewritten_or_refused(ladder, media):
                return None
        return self.media.kept(media)

    async def serve_media(self, request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return web.Response(status=204, headers=PREFLIGHT)
        if request.method not in ("GET", "HEAD"):
            return error(405, "METHOD_NOT_ALLOWED", "media is read with GET or HEAD")
        try:
            media = verify(self.key, request.raw_path.split("?", 1)[0], now=time.time())
        except InvalidMediaUrl:
            return error(403, "FORBIDDEN", "this media URL is not valid or has expired")
        if self.runtime.faults.active and await self.runtime.faults.apply():
            return error(503, "INJECTED_FAULT", "fault injected by chaos")
        try:
            return await self._serve_verified(request, media)
        except OriginUnavailable:
            return error(
                503,
                "ORIGIN_UNAVAILABLE",
                "this media is not cached here and the origin is unavailable",
                headers={"Retry-After": "2"},
            )

    async def _serve_verified(self, request: web.Request, media: MediaPath) -> web.StreamResponse:
        if media.max_height is not None:
            capped = await self._capped(media)
            if capped is not None:
                return capped
        opened = await self.media.open(media)
        if opened is None:
            return error(404, "NOT_FOUND", "no such media file")
        headers = media_headers(media.file_parts[-1])
        if not isinstance(opened, int):  # a cache miss, served while it fills
            return await opened.send(request, headers)
        return await send_file(request, opened, headers)

    async def _capped(self, media: MediaPath) -> web.StreamResponse | None:
        """The filtered master playlist, a 403 for a rendition above the cap, or None (serve
        the file as it is)."""
        assert media.max_height is not None
        ladder = await self.media.ladder(media.asset_id)
        if ladder is None or not rewritten_or_refused(ladder, media):
            return None
        if media.file_parts == ("master.m3u8",):
            return web.Response(
                text=ladder.capped(media.max_height),
                headers={
                    **CORS,
                    "Content-Type": CONTENT_TYPES[".m3u8"],
                    "Cache-Control": PLAYLIST_CACHE,
                },
            )
        return error(403, "ABOVE_PLAN", "this rendition is above your plan's resolution")

    # --- running -------------------------------------------------------------------------------
    async def serve_socket(self, *socks: socket.socket) -> None:
        """Serve on already bound sockets until a signal. SIGTERM drains, as platform/drain.py
        does for the uvicorn services: out of the registry and unready first, still answering
        for `drain_s` with `Connection: close`, then no new connections while the requests in
        flight (segments on their way) finish. SIGINT, the whole platform stopping, skips the
        settling, and ends one under way."""
        terminated, interrupted = asyncio.Event(), asyncio.Event()

        def on_sigint() -> None:
            interrupted.set()
            terminated.set()

        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, terminated.set)
        loop.add_signal_handler(signal.SIGINT, on_sigint)
        app = self.application()
        app.on_response_prepare.append(self._close_while_draining)
        # the requests in flight get 5 s on each path once the sockets close (10 s in all);
        # the supervisor waits 20
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5)
        await runner.setup()
        assert runner.server is not None
        fast = FastPath(self, hand_over=functools.partial(_hand_over, runner.server))
        async with self.runtime.lifespan(None):  # type: ignore[arg-type]
            fast.start(socks, backlog=BACKLOG)  # every connection comes in there
            log.info("edge serving", media=self.media.description)
            await terminated.wait()
            if not interrupted.is_set():
                await self._settle(interrupted)
            grace_s = 0.0 if interrupted.is_set() else ACCEPTED_GRACE_S
            await fast.stop(timeout_s=5, accepted_grace_s=grace_s)  # what is in flight finishes
            await runner.cleanup()

    async def _settle(self, interrupted: asyncio.Event) -> None:
        """Leave the registry and fail readiness, then keep answering for `drain_s` while
        callers' instance lists forget this one (a SIGINT cuts it short)."""
        settle_s = self.runtime.settings.drain_s
        try:
            await asyncio.wait_for(self.runtime.begin_drain(), timeout=settle_s + 2.0)
        except Exception as exc:
            log.warning("drain step failed", error=str(exc) or type(exc).__name__)
        log.info("draining: out of the registry, settling", settle_s=settle_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(interrupted.wait(), timeout=settle_s)

    async def _close_while_draining(
        self, _request: web.Request, response: web.StreamResponse
    ) -> None:
        """While draining, every answer tells a keep-alive client to reconnect elsewhere."""
        if self.runtime.drain.active:
            response.force_close()
            response.headers["Connection"] = "close"


async def _hand_over(server: web.Server, sock: socket.socket, buffered: bytes) -> None:
    """A connection the fast path does not answer, to the application from now on, with what
    was read of it so far."""
    handler = server()
    try:
        await asyncio.get_running_loop().connect_accepted_socket(lambda: handler, sock)
    except OSError:
        sock.close()
        return
    if buffered:
        handler.data_received(buffered)
