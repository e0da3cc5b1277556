"""`cinemesh ingest` and the demo videos first-run seeding attaches, against real processes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cinemesh.demo.upload import DemoTitle, attach_demo_videos
from tests.encoder.conftest import create_title, make_video
from tests.encoder.hls import check_package
from tests.support.platform import LocalPlatform
from tests.support.users import Member


def test_ingest_uploads_follows_the_encode_and_returns_when_ready(
    media_platform: LocalPlatform, operator: Member, tmp_path: Path
) -> None:
    title_id = create_title(media_platform, operator, "Via the CLI")
    source = make_video(tmp_path / "cli.mp4", width=320, height=240, seconds=3)
    done = media_platform.cli(
        "ingest", str(source), "--title", title_id,
        "--email", operator.email, "--password", operator.password,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is ready" in done.stdout and "240p" in done.stdout

    with_token = media_platform.cli(
        "ingest", str(source), "--title", title_id, "--token", operator.access_token
    )  # fmt: skip
    assert with_token.returncode == 0, with_token.stdout + with_token.stderr


def test_ingest_fails_with_the_reason(
    media_platform: LocalPlatform, operator: Member, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    title_id = create_title(media_platform, operator, "Junk")
    bad = media_platform.cli(
        "ingest", str(junk), "--title", title_id, "--token", operator.access_token
    )
    assert bad.returncode != 0
    assert "NOT_A_VIDEO" in bad.stdout
    source = make_video(tmp_path / "ok.mp4", width=320, height=180, seconds=2)
    unknown = media_platform.cli(
        "ingest", str(source), "--title", "no-such-title", "--token", operator.access_token
    )
    assert unknown.returncode != 0 and "TITLE_NOT_FOUND" in unknown.stdout
    anonymous = media_platform.cli("ingest", str(source), "--title", title_id)
    assert anonymous.returncode != 0


def test_demo_videos_are_made_encoded_and_playable(
    media_platform: LocalPlatform, operator: Member
) -> None:
    titles = [
        DemoTitle(create_title(media_platform, operator, name), name)
        for name in ("Neon Drift", "The Quiet Harbor")
    ]
    seen: list[tuple[str, int, int]] = []
    jobs = asyncio.run(
        attach_demo_videos(
            media_platform.layout,
            titles,
            seconds=5,
            progress=lambda stage, done, total: seen.append((stage, done, total)),
        )
    )
    assert sorted(jobs) == sorted(t.id for t in titles)
    assert all(job["state"] == "ready" for job in jobs.values()), jobs
    assert ("generating", 2, 2) in seen and ("encoding", 2, 2) in seen
    for job in jobs.values():
        check_package(media_platform.data_dir / "media" / "assets" / job["asset_id"])
