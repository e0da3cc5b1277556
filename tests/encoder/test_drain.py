"""An encoder worker asked to stop (SIGTERM: a deploy, a scale-down) mid-encode hands its job
back to the queue: another worker starts it at once, long before the ack wait would have
redelivered it, finishes it, and the asset is announced once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.encoder.conftest import MEDIA_ENV, SERVICES, create_title, make_video, upload
from tests.encoder.test_durability import ffmpeg_working_on, job_of, ready_events
from tests.support.backends import Backend, EmbeddedNats, make_backend
from tests.support.platform import LocalPlatform
from tests.support.users import admin

ACK_WAIT_S = 120  # a job redelivered by the ack wait would start again only after this
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def sqlite_backend(embedded_nats: EmbeddedNats) -> Backend:
    return make_backend("sqlite", embedded_nats_url=embedded_nats.url)


@pytest.fixture(scope="module")
def workers(
    tmp_path_factory: pytest.TempPathFactory, sqlite_backend: Backend
) -> Iterator[LocalPlatform]:
    env = {
        **sqlite_backend.env,
        **MEDIA_ENV,
        "CINEMESH_ENCODER_PRESET": "faster",
        "CINEMESH_ENCODER_ACK_WAIT_S": str(ACK_WAIT_S),
        "CINEMESH_ENCODER_MAX_UPLOAD_BYTES": str(256 * 1024**2),
        "CINEMESH_GATEWAY_MAX_UPLOAD_BYTES": str(256 * 1024**2),
    }
    running = LocalPlatform(
        tmp_path_factory.mktemp("encoder-drain"),
        services=SERVICES,
        env=env,
        scale={"encoder": 2},
    ).start(timeout_s=240)
    yield running
    running.stop()


def test_a_worker_stopped_mid_encode_hands_its_job_to_another_at_once(
    workers: LocalPlatform, sqlite_backend: Backend, tmp_path: Path
) -> None:
    operator = admin(workers)
    title_id = create_title(workers, operator, "Drain")
    source = make_video(tmp_path / "long.mp4", width=1280, height=720, seconds=12)
    sent = upload(workers, operator, title_id, source)
    assert sent.status_code == 202, sent.text
    job_id, asset_id = sent.json()["job_id"], sent.json()["asset_id"]

    deadline = time.monotonic() + 180
    job = job_of(workers, operator, job_id)
    while not (job["state"] == "encoding" and job["percent"] > 5):
        assert time.monotonic() < deadline, job
        assert job["state"] not in ("ready", "failed"), f"finished before the stop: {job}"
        time.sleep(0.1)
        job = job_of(workers, operator, job_id)
    victim = int(job["worker"].rsplit("-", 1)[1])
    os.kill(victim, signal.SIGTERM)
    stopped_at = time.monotonic()

    while job["attempts"] < 2 and job["state"] not in ("ready", "failed"):
        assert time.monotonic() - stopped_at < ACK_WAIT_S / 2, f"not handed back: {job}"
        time.sleep(0.2)
        job = job_of(workers, operator, job_id)
    handed_over_s = time.monotonic() - stopped_at
    print(f"the job started again on another worker {handed_over_s:.1f}s after SIGTERM")
    assert not job["worker"].endswith(f"-{victim}"), job
    assert gone(victim, within_s=30), "the stopped worker exited"
    assert len(ffmpeg_working_on(job_id)) <= 1, "the stopped worker's ffmpeg went with it"

    deadline = time.monotonic() + 300
    while job["state"] not in ("ready", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.3)
        job = job_of(workers, operator, job_id)
    assert job["state"] == "ready", job
    assert job["attempts"] == 2, "handed back once, finished by the next attempt"
    assert asyncio.run(ready_events(sqlite_backend, asset_id)) == 1


def gone(pid: int, *, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.2)
    return False
