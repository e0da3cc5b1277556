"""Real things for playback tests: a small HLS package made by ffmpeg, titles and assets put on
the bus the way catalog and the encoder announce them, and a scripted HLS player."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import imageio_ffmpeg
from pydantic import BaseModel

from cinemesh.contracts.catalog import TitleUpserted
from cinemesh.contracts.media import AssetReady, Rendition
from cinemesh.platform.events import Event, EventBus
from tests.support.media_stores import publish_asset

DURATION_S = 8.0
SEGMENT_S = 2.0
RENDITIONS = (("180p", 320, 180, 200_000), ("360p", 640, 360, 500_000))


def make_package(folder: Path) -> Path:
    """An 8 s CMAF HLS package with two renditions, a poster and a thumbnails track."""
    folder.mkdir(parents=True, exist_ok=True)
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    split = ";".join(f"[s{i}]scale={w}:{h}[v{i}]" for i, (_, w, h, _) in enumerate(RENDITIONS))
    args = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y"]
    args += ["-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=24:duration={DURATION_S:g}"]
    args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={DURATION_S:g}"]
    args += ["-filter_complex", f"[0:v]split={len(RENDITIONS)}[s0][s1];{split}"]
    for i in range(len(RENDITIONS)):
        args += ["-map", f"[v{i}]", "-map", "1:a"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-g", "48", "-keyint_min", "48"]
    args += ["-sc_threshold", "0", "-c:a", "aac", "-b:a", "64k"]
    for i, (_, _, _, rate) in enumerate(RENDITIONS):
        args += [f"-b:v:{i}", str(rate)]
    streams = " ".join(f"v:{i},a:{i},name:{name}" for i, (name, *_) in enumerate(RENDITIONS))
    args += ["-f", "hls", "-hls_time", f"{SEGMENT_S:g}", "-hls_playlist_type", "vod"]
    args += ["-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4"]
    args += ["-hls_segment_filename", "%v/seg_%03d.m4s", "-master_pl_name", "master.m3u8"]
    args += ["-var_stream_map", streams, "%v/index.m3u8"]
    subprocess.run(args, cwd=folder, check=True, timeout=120)
    subprocess.run(
        [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=320x180:duration=1", "-frames:v", "1", "poster.jpg"],
        cwd=folder, check=True, timeout=60,
    )  # fmt: skip
    (folder / "thumbs.vtt").write_text(
        "WEBVTT\n\n00:00:00.000 --> 00:00:08.000\nposter.jpg#xywh=0,0,320,180\n"
    )
    return folder


def renditions() -> list[Rendition]:
    return [
        Rendition(
            name=name,
            width=w,
            height=h,
            bandwidth=rate,
            codecs="avc1.42c01e,mp4a.40.2",
            playlist=f"{name}/index.m3u8",
        )
        for name, w, h, rate in RENDITIONS
    ]


async def _publish(env: dict[str, str], models: list[BaseModel]) -> None:
    bus = EventBus(
        env["CINEMESH_NATS_URL"], service="tests", namespace=env["CINEMESH_BUS_NAMESPACE"]
    )
    await bus.connect()
    try:
        for model in models:
            await bus.publish(Event(type=model.TYPE, data=model.model_dump(mode="json")))  # type: ignore[attr-defined]
    finally:
        await bus.close()


def publish(env: dict[str, str], *models: BaseModel) -> None:
    """Put events on the bus as their producers would."""
    asyncio.run(_publish(env, list(models)))


async def _collect(env: dict[str, str], pattern: str, seconds: float) -> list[Event]:
    bus = EventBus(
        env["CINEMESH_NATS_URL"], service="tests", namespace=env["CINEMESH_BUS_NAMESPACE"]
    )
    await bus.connect()
    seen: list[Event] = []

    async def keep(evt: Event) -> None:
        seen.append(evt)

    try:
        await bus.consume(pattern, keep, delivery="broadcast")
        await asyncio.sleep(seconds)
    finally:
        await bus.close()
    return seen


def collect(env: dict[str, str], pattern: str, *, seconds: float = 1.5) -> list[Event]:
    """Every event on the bus matching `pattern` so far."""
    return asyncio.run(_collect(env, pattern, seconds))


@dataclass
class Title:
    title_id: str
    asset_id: str
    rating: str


def add_title(
    *, env: dict[str, str], data_dir: Path, package: Path, rating: str = "PG", ready: bool = True
) -> Title:
    """A title announced by catalog and, when `ready`, its asset published by the encoder."""
    title = Title(f"t-{uuid.uuid4().hex[:10]}", f"a{uuid.uuid4().hex[:16]}", rating)
    events: list[BaseModel] = [
        TitleUpserted(
            title_id=title.title_id,
            title=f"Test {title.title_id}",
            kind="movie",
            genres=["drama"],
            maturity_rating=rating,
            playable=ready,
        )
    ]
    if ready:
        publish_asset(env, data_dir, title.asset_id, package)
        events.append(
            AssetReady(
                asset_id=title.asset_id,
                title_id=title.title_id,
                duration_s=DURATION_S,
                renditions=renditions(),
            )
        )
    publish(env, *events)
    return title


def start_session(
    gateway: str, headers: dict[str, str], body: dict[str, Any], *, wait_s: float = 10
) -> httpx.Response:
    """POST /api/v1/playback/sessions, waiting out the moment before playback has heard of the
    title (404/409 while its events are on the way)."""
    deadline = time.monotonic() + wait_s
    while True:
        response = httpx.post(
            f"{gateway}/api/v1/playback/sessions", json=body, headers=headers, timeout=10
        )
        if response.status_code not in (404, 409) or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


# --- a scripted HLS player ------------------------------------------------------------------


def _attributes(line: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in line.split(":", 1)[1].split(","):
        if "=" in part:
            key, value = part.split("=", 1)
            out[key.strip()] = value.strip('"')
    return out


def parse_master(text: str) -> list[tuple[dict[str, str], str]]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines and lines[0] == "#EXTM3U", text
    return [
        (_attributes(line), lines[i + 1])
        for i, line in enumerate(lines)
        if line.startswith("#EXT-X-STREAM-INF:")
    ]


def parse_media(text: str) -> tuple[str, list[tuple[float, str]]]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    init, segments = "", []
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-MAP:"):
            init = line.split('URI="', 1)[1].split('"', 1)[0]
        elif line.startswith("#EXTINF:"):
            segments.append((float(line.split(":", 1)[1].rstrip(",")), lines[i + 1]))
    return init, segments


@dataclass
class PlayReport:
    segments: int = 0
    failed: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    failovers: int = 0
    edges_used: list[str] = field(default_factory=list)
    bytes: int = 0


class HlsPlayer:
    """Plays a signed manifest the way a player does: master, one rendition, init, then each
    segment when it is due (at `speed` times real time), failing over to the next edge."""

    def __init__(self, edge_urls: list[str], manifest_path: str, *, speed: float = 4.0) -> None:
        self.edges = list(edge_urls)
        self.current = 0
        self.base = manifest_path.rsplit("/", 1)[0] + "/"
        self.master = manifest_path
        self.speed = speed
        self.report = PlayReport()
        self.client = httpx.Client(timeout=2.0)

    def fetch(self, path: str) -> bytes:
        for _ in range(len(self.edges)):
            edge = self.edges[self.current]
            try:
                response = self.client.get(edge + path)
                if response.status_code == 200:
                    if edge not in self.report.edges_used:
                        self.report.edges_used.append(edge)
                    return response.content
                if response.status_code < 500:
                    raise AssertionError(f"{path}: {response.status_code} {response.text}")
            except httpx.TransportError:
                pass
            self.current = (self.current + 1) % len(self.edges)
            self.report.failovers += 1
        raise RuntimeError(f"every edge failed for {path}")

    def play(self, *, max_height: int = 100_000, on_segment: Any = None) -> PlayReport:
        variants = parse_master(self.fetch(self.master).decode())
        playable = [v for v in variants if int(v[0]["RESOLUTION"].split("x")[1]) <= max_height]
        _attrs, uri = max(playable, key=lambda v: int(v[0]["BANDWIDTH"]))
        folder = self.base + uri.rsplit("/", 1)[0] + "/"
        init, segments = parse_media(self.fetch(self.base + uri).decode())
        self.report.bytes += len(self.fetch(folder + init))
        started, due = time.monotonic(), 0.0
        for index, (duration, name) in enumerate(segments):
            wait = started + due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                body = self.fetch(folder + name)
                self.report.bytes += len(body)
                self.report.segments += 1
            except RuntimeError:
                self.report.failed.append(name)
            due += duration / self.speed
            if time.monotonic() > started + due:
                self.report.late.append(name)
            if on_segment is not None:
                on_segment(index, self)
        self.client.close()
        return self.report
