"""A kill -9 of a real edge process while a fill is being written to its disk cache leaves no
object that a restarted edge on the same cache folder would serve cut short: the origin (a
real SeaweedFS behind a pass-through proxy that stalls one object half-way) has sent part of a
big segment, the edge has streamed it to a viewer and written it to disk, and then it is
killed; the edge that the platform starts again on that folder serves the segment whole."""

from __future__ import annotations

import asyncio
import http.client
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import obstore
import pytest

from cinemesh.contracts.signed_urls import load_edge_key, sign
from cinemesh.platform.media_store import asset_key
from cinemesh.runner.local import LocalPlatform
from cinemesh.runner.seaweed import SeaweedS3
from tests.support.backends import EmbeddedNats, make_backend
from tests.support.media_stores import s3_store

BIG = 8 * 1024**2  # a segment that takes a while to fill
SENT_BEFORE_STALL = 1024**2
SEGMENT = "360p/seg_000.m4s"
MASTER = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\n360p/index.m3u8\n"
SKIPPED_HEADERS = {"connection", "transfer-encoding", "content-length", "keep-alive"}


class StallingOrigin:
    """A pass-through HTTP proxy in front of an S3 server that sends the first bytes of the
    objects whose path ends with `stall_suffix` and then waits for `release`."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.stall_suffix: str | None = None
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> StallingOrigin:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        origin = self

        class Forward(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                origin.forward(self)

            do_HEAD = do_PUT = do_POST = do_DELETE = do_GET

            def log_message(self, *_args: object) -> None:
                return None

        return Forward

    def forward(self, request: BaseHTTPRequestHandler) -> None:
        """Ask the S3 server what was asked (the same head, so its signature holds) and answer
        with its answer, stalled half-way for the stalled objects."""
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else None
        upstream = http.client.HTTPConnection(*self.upstream, timeout=30)
        upstream.request(request.command, request.path, body=body, headers=dict(request.headers))
        answer = upstream.getresponse()
        data = answer.read()
        upstream.close()
        request.send_response_only(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in SKIPPED_HEADERS:
                request.send_header(name, value)
        sized = answer.getheader("Content-Length", "0") if request.command == "HEAD" else len(data)
        request.send_header("Content-Length", str(sized))
        request.end_headers()
        if request.command == "HEAD":
            return
        stall = (
            answer.status == 200 and self.stall_suffix and request.path.endswith(self.stall_suffix)
        )
        try:
            if stall:
                request.wfile.write(data[:SENT_BEFORE_STALL])
                request.wfile.flush()
                self.stalled.set()
                self.release.wait(60)
                data = data[SENT_BEFORE_STALL:]
            request.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the edge that asked was killed


@pytest.fixture(scope="module")
def stalling_origin(seaweedfs: SeaweedS3) -> Iterator[StallingOrigin]:
    origin = StallingOrigin(seaweedfs.endpoint).start()
    yield origin
    origin.stop()


@pytest.fixture(scope="module")
def platform(
    seaweedfs: SeaweedS3,
    stalling_origin: StallingOrigin,
    embedded_nats: EmbeddedNats,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LocalPlatform]:
    """A registry and one edge whose origin is SeaweedFS through the stalling proxy."""
    backend = make_backend("sqlite", embedded_nats_url=embedded_nats.url)
    env = {
        **backend.env,
        **seaweedfs.env(prefix=f"killed-{uuid.uuid4().hex[:8]}"),
        "CINEMESH_S3_ENDPOINT": stalling_origin.url,
        "CINEMESH_EDGE_PREFILL_EVERY_S": "0",
    }
    data_dir = tmp_path_factory.mktemp("edge-killed")
    (data_dir / ".seeded").touch()
    running = LocalPlatform(data_dir, services=["registry", "edge"], env=env).start(timeout_s=120)
    yield running
    running.stop()


def publish_big_asset(platform: LocalPlatform, seaweedfs: SeaweedS3) -> tuple[str, bytes]:
    """An asset whose one segment is BIG random bytes, put straight into SeaweedFS."""
    env = {**platform.env, "CINEMESH_S3_ENDPOINT": seaweedfs.endpoint}
    store = s3_store(env).store
    asset_id = f"a{uuid.uuid4().hex[:16]}"
    whole = os.urandom(BIG)

    async def put() -> None:
        await obstore.put_async(store, asset_key(asset_id, SEGMENT), whole)
        await obstore.put_async(store, asset_key(asset_id, "master.m3u8"), MASTER.encode())

    asyncio.run(put())
    return asset_id, whole


def watch_in_background(url: str) -> tuple[threading.Thread, list[int]]:
    """A viewer reading `url` until the edge goes away; how many bytes it got so far."""
    received = [0]

    def watch() -> None:
        try:
            with httpx.stream("GET", url, timeout=30) as answer:
                for chunk in answer.iter_bytes():
                    received[0] += len(chunk)
        except httpx.HTTPError:
            pass

    viewer = threading.Thread(target=watch, daemon=True)
    viewer.start()
    return viewer, received


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file in a cache folder (a fill's part files too), by name."""
    if not folder.exists():
        return {}
    return {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_an_edge_killed_mid_fill_leaves_nothing_cut_short_for_the_edge_started_after_it(
    platform: LocalPlatform, seaweedfs: SeaweedS3, stalling_origin: StallingOrigin
) -> None:
    asset_id, whole = publish_big_asset(platform, seaweedfs)
    stalling_origin.stall_suffix = f"/{asset_id}/{SEGMENT}"
    key = load_edge_key(platform.data_dir, "")
    signed = sign(key, asset_id, int(time.time()) + 600, SEGMENT)
    cached = platform.data_dir / "edge-cache" / "edge-0" / "assets" / asset_id / "360p"

    viewer, received = watch_in_background(platform.url_of("edge") + signed)
    wait_for(stalling_origin.stalled.is_set, "the origin began to send the segment")
    wait_for(
        lambda: sum(map(len, files_of(cached).values())) >= SENT_BEFORE_STALL // 2,
        "the edge wrote the fill's first bytes to its disk",
    )
    wait_for(lambda: received[0] > 0, "the viewer got the first bytes while it filled")
    killed = platform.kill("edge")
    viewer.join(timeout=30)
    assert 0 < received[0] < BIG, "the viewer was cut off mid-segment by the kill"

    stalling_origin.stall_suffix = None
    stalling_origin.release.set()
    wait_for(
        lambda: any(
            i["pid"] not in (None, killed) and i["healthy"] for i in platform.instances("edge")
        ),
        "the platform started the edge again",
    )
    for name, body in files_of(cached).items():
        assert body == whole, f"{name}: {len(body)} of {BIG} bytes left in the cache"
    served = httpx.get(platform.url_of("edge") + signed, timeout=60)
    assert served.status_code == 200 and served.content == whole, len(served.content)
    assert files_of(cached) == {"seg_000.m4s": whole}, "filled again, whole"
