"""kill -9 of the worker mid-encode: the job is redelivered and completes, no half-written
package is ever visible (on files, and on S3: no master playlist in the bucket), and
`media.asset.ready` is published exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import nats
import orjson
import psutil
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from cinemesh.platform.media_store import MASTER, asset_key
from cinemesh.runner.seaweed import SeaweedS3
from tests.encoder.conftest import MEDIA_ENV, SERVICES, create_title, make_video, upload
from tests.encoder.hls import check_package
from tests.support.backends import Backend, EmbeddedNats, make_backend
from tests.support.media_stores import download_asset, s3_store, store_env
from tests.support.platform import LocalPlatform
from tests.support.users import Member, admin

ACK_WAIT_S = 6


def start_crash_platform(data_dir: Path, env: dict[str, str]) -> LocalPlatform:
    env = {
        **env,
        **MEDIA_ENV,
        "CINEMESH_ENCODER_PRESET": "faster",
        "CINEMESH_ENCODER_ACK_WAIT_S": str(ACK_WAIT_S),
        "CINEMESH_ENCODER_MAX_UPLOAD_BYTES": str(256 * 1024**2),
        "CINEMESH_GATEWAY_MAX_UPLOAD_BYTES": str(256 * 1024**2),
    }
    return LocalPlatform(data_dir, services=SERVICES, env=env, scale={"encoder": 2}).start(
        timeout_s=150
    )


@pytest.fixture
def crash_platform(data_dir: Path, backend: Backend) -> Iterator[LocalPlatform]:
    running = start_crash_platform(data_dir, backend.env)
    yield running
    running.stop()


@pytest.fixture
def s3_crash_platform(
    data_dir: Path, embedded_nats: EmbeddedNats, seaweedfs: SeaweedS3
) -> Iterator[tuple[LocalPlatform, Backend]]:
    """The same on SQLite with an S3 media store."""
    backend = make_backend("sqlite", embedded_nats_url=embedded_nats.url)
    running = start_crash_platform(data_dir, {**backend.env, **store_env("s3", seaweedfs)})
    yield running, backend
    running.stop()


def job_of(platform: LocalPlatform, who: Member, job_id: str) -> dict:
    answer = httpx.get(
        f"{platform.gateway}/api/v1/admin/jobs/{job_id}", headers=who.headers, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def ffmpeg_working_on(job_id: str) -> list[int]:
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "ffmpeg" in cmdline and job_id in cmdline:
            found.append(proc.info["pid"])
    return found


async def ready_events(backend: Backend, asset_id: str, *, listen_s: float = 3.0) -> int:
    namespace = backend.env["CINEMESH_BUS_NAMESPACE"]
    nc = await nats.connect(backend.nats_url)
    try:
        js = nc.jetstream()
        seen: list[dict] = []

        async def on_msg(msg) -> None:  # type: ignore[no-untyped-def]
            seen.append(orjson.loads(msg.data))

        await js.subscribe(
            f"{namespace}.evt.media.asset.ready",
            cb=on_msg,
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        await asyncio.sleep(listen_s)
        return sum(1 for evt in seen if evt["data"]["asset_id"] == asset_id)
    finally:
        await nc.close()


def test_a_worker_killed_mid_encode_loses_nothing_and_publishes_once(
    crash_platform: LocalPlatform, backend: Backend, tmp_path: Path
) -> None:
    def asset_folder(asset_id: str) -> Path | None:
        folder = crash_platform.data_dir / "media" / "assets" / asset_id
        return folder if folder.exists() else None

    kill_mid_encode_then_finish(crash_platform, backend, tmp_path, published=asset_folder)


def test_on_s3_a_worker_killed_mid_encode_leaves_no_master_playlist_and_the_job_resumes(
    s3_crash_platform: tuple[LocalPlatform, Backend], tmp_path: Path
) -> None:
    platform, backend = s3_crash_platform
    bucket = s3_store(platform.env)

    def asset_in_bucket(asset_id: str) -> Path | None:
        if asyncio.run(bucket.read(asset_key(asset_id, MASTER))) is None:
            return None
        return download_asset(bucket, asset_id, tmp_path / "published" / asset_id)

    kill_mid_encode_then_finish(platform, backend, tmp_path, published=asset_in_bucket)
    assert not (platform.data_dir / "media" / "assets").exists(), "nothing published locally"


def kill_mid_encode_then_finish(
    platform: LocalPlatform,
    backend: Backend,
    tmp_path: Path,
    *,
    published: Callable[[str], Path | None],
) -> None:
    """Kill the worker mid-encode: the asset stays invisible (`published` finds nothing), the
    job is redelivered and finished by the other worker, and it is announced exactly once."""
    operator = admin(platform)
    title_id = create_title(platform, operator, "Crash")
    source = make_video(tmp_path / "long.mp4", width=1280, height=720, seconds=12)
    sent = upload(platform, operator, title_id, source)
    assert sent.status_code == 202, sent.text
    job_id, asset_id = sent.json()["job_id"], sent.json()["asset_id"]

    deadline = time.monotonic() + 120
    job = job_of(platform, operator, job_id)
    while not (job["state"] == "encoding" and job["percent"] > 5):
        assert time.monotonic() < deadline, job
        assert job["state"] not in ("ready", "failed"), f"finished before the kill: {job}"
        time.sleep(0.1)
        job = job_of(platform, operator, job_id)
    assert published(asset_id) is None, "nothing is visible before the package is complete"
    victim = int(job["worker"].rsplit("-", 1)[1])
    os.kill(victim, signal.SIGKILL)
    time.sleep(1.0)
    assert not ffmpeg_working_on(job_id), "the killed worker's ffmpeg died with it"
    assert published(asset_id) is None

    deadline = time.monotonic() + 240
    while job["state"] not in ("ready", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.3)
        job = job_of(platform, operator, job_id)
    assert job["state"] == "ready", job
    assert job["attempts"] >= 2, "a second attempt finished it"
    assert not job["worker"].endswith(f"-{victim}"), "another process finished it"
    folder = published(asset_id)
    assert folder is not None
    check_package(folder, segment_s=4.0)
    assert [d["name"] for d in job["result"]["ladder"]["decisions"]] == [
        "240p",
        "360p",
        "480p",
        "720p",
    ]
    assert not (platform.data_dir / "media" / ".work" / job_id).exists()
    assert asyncio.run(ready_events(backend, asset_id)) == 1
