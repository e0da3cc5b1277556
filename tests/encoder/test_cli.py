"""`cinemesh ingest` and the demo videos first-run seeding attaches, against real processes."""

from __future__ import annotations

import asyncio
import stat
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg

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
    unknown_locally = media_platform.cli("ingest", str(source), "--title", "no-such-title")
    assert unknown_locally.returncode != 0 and "TITLE_NOT_FOUND" in unknown_locally.stdout


def cli_as_user(
    platform: LocalPlatform, config_home: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`cinemesh ARGS` with its own config dir, as a user who may have run `cinemesh login`."""
    return subprocess.run(
        [sys.executable, "-m", "cinemesh", *args, "--data-dir", str(platform.data_dir)],
        env={**platform.env, "XDG_CONFIG_HOME": str(config_home)},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ingest_needs_no_credentials_locally_and_a_login_for_a_remote_gateway(
    media_platform: LocalPlatform, operator: Member, tmp_path: Path
) -> None:
    title_id = create_title(media_platform, operator, "Signed In Once")
    source = make_video(tmp_path / "plain.mp4", width=320, height=180, seconds=2)
    config = tmp_path / "config"
    local = cli_as_user(media_platform, config, "ingest", str(source), "--title", title_id)
    assert local.returncode == 0, local.stdout + local.stderr
    assert "is ready" in local.stdout

    remote = ["ingest", str(source), "--title", title_id, "--gateway", media_platform.gateway]
    not_yet = cli_as_user(media_platform, config, *remote)
    assert not_yet.returncode != 0 and "cinemesh login" in not_yet.stdout
    login = ["login", "--gateway", media_platform.gateway, "--email", operator.email]
    signed_in = cli_as_user(
        media_platform, config, *login, "--password-stdin", stdin=f"{operator.password}\n"
    )
    assert signed_in.returncode == 0 and "(admin)" in signed_in.stdout, signed_in.stdout
    assert stat.S_IMODE((config / "cinemesh" / "credentials.json").stat().st_mode) == 0o600
    with_login = cli_as_user(media_platform, config, *remote)
    assert with_login.returncode == 0, with_login.stdout + with_login.stderr


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


def test_ingest_with_subtitles_and_audio_publishes_them_and_refuses_a_bad_file_first(
    media_platform: LocalPlatform, operator: Member, tmp_path: Path
) -> None:
    title_id = create_title(media_platform, operator, "Subtitled via the CLI")
    source = make_video(tmp_path / "subs.mp4", width=320, height=180, seconds=2)
    english = tmp_path / "film.en.srt"
    english.write_text("1\n00:00:00,200 --> 00:00:01,000\n[music] Hi\n")
    broken = tmp_path / "broken.srt"
    broken.write_bytes(b"\x00\x00PK\x03\x04 not text")
    refused = media_platform.cli(
        "ingest", str(source), "--title", title_id, "--subtitles", f"{broken}:en"
    )  # fmt: skip
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "NOT_SUBTITLES" in refused.stdout and "uploading" not in refused.stdout
    french = tmp_path / "film.fr.m4a"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
         "sine=frequency=660:duration=2", "-c:a", "aac", str(french)],
        check=True, timeout=60,
    )  # fmt: skip
    done = media_platform.cli(
        "ingest", str(source), "--title", title_id, "--subtitles", f"{english}:en:sdh",
        "--audio", f"{french}:fr",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "subtitles: English (CC) [en]" in done.stdout, done.stdout
    assert "audio: Audio 1 [und]" in done.stdout and "audio: Français [fr]" in done.stdout
