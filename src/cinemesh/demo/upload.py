"""Uploading videos to the encoder: a multipart body streamed from disk (what `cinemesh ingest`
sends through the gateway too), and `attach_demo_videos`, which first-run seeding and the chaos
bench call to give demo titles real, playable videos."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cinemesh.runner.client import auth_headers, healthy_port
from cinemesh.runner.layout import Layout

CHUNK = 1024 * 1024
POLL_S = 1.0
FINAL = ("ready", "failed")


class DemoVideosFailed(Exception):
    """A demo video could not be handed to the encoder; the message says why."""


def error_text(response: httpx.Response) -> str:
    """The error envelope of an answer as `CODE: message`, or its status and start."""
    try:
        error = response.json()["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {response.text[:300]}"


@dataclass
class Multipart:
    """A multipart/form-data body with one file field, streamed from disk."""

    path: Path
    field: str = "file"
    boundary: str = ""

    def __post_init__(self) -> None:
        self.boundary = self.boundary or f"cinemesh-{uuid.uuid4().hex}"
        name = self.path.name.replace('"', "_").replace("\r", "_").replace("\n", "_")
        self.head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{self.field}"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def length(self) -> int:
        return len(self.head) + self.path.stat().st_size + len(self.tail)

    def chunks(self, on_bytes: Callable[[int], None] = lambda _n: None) -> Iterator[bytes]:
        yield self.head
        with self.path.open("rb") as source:
            while chunk := source.read(CHUNK):
                on_bytes(len(chunk))
                yield chunk
        yield self.tail

    async def achunks(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks():
            yield chunk


# --- demo videos for first-run seeding -------------------------------------------------------
@dataclass(frozen=True)
class DemoTitle:
    id: str
    name: str
    episode_id: str | None = None


async def attach_demo_videos(
    layout: Layout,
    titles: list[DemoTitle],
    *,
    seconds: float = 16.0,
    progress: Callable[[str, int, int], None] | None = None,
    timeout_s: float = 1800.0,
) -> dict[str, dict[str, Any]]:
    """Make a demo video for each title, hand it to the encoder (service credential: no admin
    account needed) and wait until every encode is final. `progress(stage, done, total)` is
    called as videos are made ("generating") and as encodes finish ("encoding"). Answers each
    title id's final job (state `ready` or `failed`)."""
    # imported here, not at the top: `cinemesh serve` loads the CLI, and no service process
    # should load the encoder's pipeline for a first-run step it never takes
    from cinemesh.demo.videos import make_demo_video

    total = len(titles)
    jobs: dict[str, str] = {}
    async with httpx.AsyncClient(headers=auth_headers(layout), timeout=120) as http:
        with tempfile.TemporaryDirectory(prefix="cinemesh-demo-") as tmp:
            for k, title in enumerate(titles):
                video = await make_demo_video(
                    Path(tmp) / f"{k}.mp4", title=title.name, seconds=seconds
                )
                jobs[title.id] = await _upload_direct(http, layout, title, video)
                os.unlink(video)
                if progress:
                    progress("generating", k + 1, total)
        return await _wait_all(http, layout, jobs, progress=progress, timeout_s=timeout_s)


async def _encoder_url(http: httpx.AsyncClient, layout: Layout) -> str:
    port = await healthy_port(http, layout, "encoder")
    if port is None:
        raise DemoVideosFailed("no healthy encoder instance")
    return f"http://127.0.0.1:{port}"


async def _upload_direct(
    http: httpx.AsyncClient, layout: Layout, title: DemoTitle, video: Path
) -> str:
    body = Multipart(video)
    params = {"episode_id": title.episode_id} if title.episode_id else None
    base = await _encoder_url(http, layout)
    answer = await http.post(
        f"{base}/v1/titles/{title.id}/media",
        content=body.achunks(),
        params=params,
        headers={"Content-Type": body.content_type, "Content-Length": str(body.length)},
    )
    if answer.status_code != 202:
        raise DemoVideosFailed(f"{title.name}: {error_text(answer)}")
    return str(answer.json()["job_id"])


async def _wait_all(
    http: httpx.AsyncClient,
    layout: Layout,
    jobs: dict[str, str],
    *,
    progress: Callable[[str, int, int], None] | None,
    timeout_s: float,
) -> dict[str, dict[str, Any]]:
    final: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    while len(final) < len(jobs) and time.monotonic() < deadline:
        base = await _encoder_url(http, layout)
        for title_id, job_id in jobs.items():
            if title_id in final:
                continue
            answer = await http.get(f"{base}/v1/jobs/{job_id}")
            if answer.status_code == 200 and answer.json()["state"] in FINAL:
                final[title_id] = answer.json()
                if progress:
                    progress("encoding", len(final), len(jobs))
        await asyncio.sleep(POLL_S)
    return final
