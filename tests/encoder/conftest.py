from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import imageio_ffmpeg
import pytest

from cinemesh.platform.media_store import FileMediaStore
from cinemesh.services.encoder.ladder import EncodeOptions
from cinemesh.services.encoder.package import MediaFolders, QualityOptions, build_package
from cinemesh.services.encoder.probe import probe
from cinemesh.services.encoder.subtitles import SubtitleSource
from tests.support.backends import EmbeddedNats, make_backend
from tests.support.media_stores import STORES
from tests.support.platform import LocalPlatform
from tests.support.users import Member, admin

SERVICES = ["registry", "identity", "catalog", "encoder", "gateway"]
PLAYABLE = [*SERVICES, "profiles", "playback", "edge"]  # and what it takes to play the result
ENCODER_LIMIT = 8 * 1024**2
GATEWAY_LIMIT = 48 * 1024**2
MEDIA_ENV = {
    "CINEMESH_ENCODER_PRESET": "ultrafast",
    "CINEMESH_ENCODER_MAX_UPLOAD_BYTES": str(ENCODER_LIMIT),
    "CINEMESH_GATEWAY_MAX_UPLOAD_BYTES": str(GATEWAY_LIMIT),
    "CINEMESH_ENCODER_VMAF_SUBSAMPLE": "10",
}


def make_video(
    path: Path,
    *,
    width: int = 640,
    height: int = 360,
    seconds: float = 6,
    fps: int = 25,
    audio: bool = True,
    pattern: str = "testsrc2",
    faststart: bool = False,
) -> Path:
    args = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
            f"{pattern}=size={width}x{height}:rate={fps}:duration={seconds}"]  # fmt: skip
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
        args += ["-c:a", "aac"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if faststart:
        args += ["-movflags", "+faststart"]
    subprocess.run([*args, str(path)], check=True, timeout=120)
    return path


def package_here(
    source: Path, folder: Path, *, subtitles: Sequence[SubtitleSource] = ()
) -> tuple[dict[str, Any], Path]:
    """`source` packaged in this process (ultrafast, 1 s segments) and published to a files
    media store under `folder`: the manifest, and the folder of the published asset."""
    folders = MediaFolders(folder / "media")
    folders.prepare()

    async def report(_state: str, _percent: float) -> None:
        return None

    manifest = asyncio.run(
        build_package(
            job_id="job",
            asset_id="asset",
            source_path=source,
            source=probe(source),
            folders=folders,
            store=FileMediaStore(folders.root),
            encode=EncodeOptions(preset="ultrafast", segment_s=1),
            quality=QualityOptions(subsample=10),
            report=report,
            subtitles=subtitles,
        )
    )
    return manifest, folders.root / "assets" / "asset"


@pytest.fixture(scope="module")
def media_platform(
    tmp_path_factory: pytest.TempPathFactory, embedded_nats: EmbeddedNats
) -> Iterator[LocalPlatform]:
    backend = make_backend("sqlite", embedded_nats_url=embedded_nats.url)
    running = LocalPlatform(
        tmp_path_factory.mktemp("media"), services=PLAYABLE, env={**backend.env, **MEDIA_ENV}
    ).start(timeout_s=120)
    yield running
    running.stop()


@pytest.fixture(scope="module", params=STORES)
def store_platform(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    embedded_nats: EmbeddedNats,
) -> Iterator[LocalPlatform]:
    """The platform from ingest to playback on each media store: files is `media_platform`;
    s3 is `cinemesh up --media-store s3`, which starts its own SeaweedFS."""
    if request.param == "files":
        yield request.getfixturevalue("media_platform")
        return
    backend = make_backend("sqlite", embedded_nats_url=embedded_nats.url)
    running = LocalPlatform(
        tmp_path_factory.mktemp("media-s3"),
        services=PLAYABLE,
        env={**backend.env, **MEDIA_ENV},
        up_args=["--media-store", "s3"],
    ).start(timeout_s=120)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def operator(media_platform: LocalPlatform) -> Member:
    return admin(media_platform)


def create_title(platform: LocalPlatform, who: Member, name: str = "Ingest test") -> str:
    made = httpx.post(
        f"{platform.gateway}/api/v1/admin/titles",
        json={"title": name, "kind": "movie", "genres": ["Documentary"]},
        headers=who.headers,
        timeout=30,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def upload(
    platform: LocalPlatform, who: Member, title_id: str, path: Path, *, filename: str = "a.mp4"
) -> httpx.Response:
    with path.open("rb") as body:
        return httpx.post(
            f"{platform.gateway}/api/v1/admin/titles/{title_id}/media",
            files={"file": (filename, body, "video/mp4")},
            headers=who.headers,
            timeout=120,
        )


def wait_for_job(
    platform: LocalPlatform, who: Member, job_id: str, *, timeout_s: float = 240
) -> tuple[dict[str, Any], list[tuple[str, float]]]:
    """Poll the job until it is final; answers it and the (state, percent) seen on the way."""
    seen: list[tuple[str, float]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = httpx.get(
            f"{platform.gateway}/api/v1/admin/jobs/{job_id}", headers=who.headers, timeout=10
        )
        assert answer.status_code == 200, answer.text
        job = answer.json()
        seen.append((job["state"], job["percent"]))
        if job["state"] in ("ready", "failed"):
            return job, seen
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} not done in {timeout_s}s: {seen[-5:]}")
