"""From an upload to a player, on each media store: the encoder publishes the whole package
(on S3: listed through the S3 API, and nothing of it under the data dir's media folder for an
edge to read), and the title plays through the edge."""

from __future__ import annotations

from pathlib import Path

from cinemesh.platform.media_store import asset_key
from cinemesh.runner.seaweed import running_s3_env
from tests.encoder.conftest import create_title, make_video, upload, wait_for_job
from tests.encoder.hls import check_package
from tests.playback.media import HlsPlayer, start_session
from tests.support.media_stores import asset_keys, download_asset, s3_store
from tests.support.platform import LocalPlatform
from tests.support.users import admin, sign_up

WHOLE_PACKAGE = ["master.m3u8", "asset.json", "poster.jpg", "thumbs.jpg", "thumbs.vtt"]


def published_package(platform: LocalPlatform, asset_id: str, into: Path) -> Path:
    """The asset as a folder: the data dir's on files; a copy out of the bucket on S3."""
    local = platform.data_dir / "media" / "assets" / asset_id
    s3 = running_s3_env(platform.data_dir)
    if s3 is None:
        return local
    store = s3_store(s3)
    keys = asset_keys(store, asset_id)
    assert {asset_key(asset_id, name) for name in WHOLE_PACKAGE} <= set(keys), keys
    assert any(key.endswith(".m4s") for key in keys) and any("init" in key for key in keys)
    assert not local.exists(), "on S3 nothing of the asset is under the data dir"
    return download_asset(store, asset_id, into)


def test_an_ingest_is_published_whole_and_plays_through_the_edge(
    store_platform: LocalPlatform, tmp_path: Path
) -> None:
    operator = admin(store_platform)
    title_id = create_title(store_platform, operator, "Published")
    source = make_video(tmp_path / "in.mp4", width=640, height=360, seconds=6)
    sent = upload(store_platform, operator, title_id, source)
    assert sent.status_code == 202, sent.text
    job, _seen = wait_for_job(store_platform, operator, sent.json()["job_id"])
    assert job["state"] == "ready", job
    check_package(published_package(store_platform, job["asset_id"], tmp_path / "asset"))

    member = sign_up(store_platform, plan="premium")
    body = {"profile_id": member.profile_id, "title_id": title_id}
    started = start_session(store_platform.gateway, member.headers, body, wait_s=30)
    assert started.status_code == 201, started.text
    session = started.json()
    report = HlsPlayer(session["edge_urls"], session["manifest_path"], speed=8.0).play()
    assert report.failed == [] and report.segments == 2, report
