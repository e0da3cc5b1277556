"""From an upload to a player, on each media store: the encoder publishes the whole package
(on S3: listed through the S3 API, and nothing of it under the data dir's media folder for an
edge to read; the source kept in the bucket and the encoder's local copy of it deleted once
the job is done; catalog's generated artwork put in the bucket for every instance), and the
title plays through the edge (on S3 also in the web app's player in headless Chromium)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import obstore

from cinemesh.platform.media_store import S3MediaStore, asset_key
from cinemesh.runner.seaweed import running_s3_env
from tests.encoder.conftest import create_title, make_video, upload, wait_for_job
from tests.encoder.hls import check_package
from tests.playback.media import HlsPlayer, start_session
from tests.support.media_stores import asset_keys, download_asset, s3_store
from tests.support.platform import LocalPlatform
from tests.support.users import Member, admin, sign_up

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


async def listed(store: S3MediaStore, prefix: str) -> list[str]:
    keys: list[str] = []
    async for batch in obstore.list(store.store, prefix=prefix):
        keys.extend(meta["path"] for meta in batch)
    return keys


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
    s3 = running_s3_env(store_platform.data_dir)
    local_sources = store_platform.data_dir / "media" / "sources"
    if s3 is not None:
        kept = asyncio.run(listed(s3_store(s3), "sources/"))
        assert len(kept) == 1 and kept[0].startswith("sources/src-"), "the source is kept in S3"
        deadline = time.monotonic() + 20  # deleted just after the job is marked ready
        while [p for p in local_sources.iterdir() if p.is_file()]:
            assert time.monotonic() < deadline, "the encoder's local copy of the source stayed"
            time.sleep(0.2)
        poster = httpx.get(f"{store_platform.gateway}/api/v1/artwork/{title_id}/poster", timeout=30)
        assert poster.status_code == 200 and poster.content[:2] == b"\xff\xd8", poster.text
        drawn = asyncio.run(listed(s3_store(s3), "artwork/"))
        assert [k for k in drawn if k.endswith("-poster.jpg")], "drawn once, put in the bucket"
    else:
        assert any(p.is_file() for p in local_sources.iterdir()), "the store's own copy stays"

    member = sign_up(store_platform, plan="premium")
    body = {"profile_id": member.profile_id, "title_id": title_id}
    started = start_session(store_platform.gateway, member.headers, body, wait_s=30)
    assert started.status_code == 201, started.text
    session = started.json()
    report = HlsPlayer(session["edge_urls"], session["manifest_path"], speed=8.0).play()
    # a 6 s source: the 1, 1 and 2 s start segments, then the last 2 s
    assert report.failed == [] and report.segments == 4, report
    if s3 is not None:  # the web player too, with every byte from the bucket through an edge
        played = play_in_chromium(store_platform, member, title_id)
        assert played["time"] >= 2, played


def play_in_chromium(platform: LocalPlatform, member: Member, title_id: str) -> dict[str, Any]:
    """The title in the web app's player in headless Chromium, the member signed in and their
    profile chosen (as the app keeps them); answers the video's state once it has played 2 s."""
    from playwright.sync_api import sync_playwright

    from tests.web.conftest import CHROMIUM_ARGS, ensure_chromium

    profiles = httpx.get(f"{platform.gateway}/api/v1/profiles", headers=member.headers, timeout=10)
    profile = next(p for p in profiles.json()["items"] if p["id"] == member.profile_id)
    tokens = {"access_token": member.access_token, "refresh_token": member.refresh_token}
    signed_in = (
        f"localStorage.setItem('cinemesh.tokens', {json.dumps(json.dumps(tokens))});"
        f"localStorage.setItem('cinemesh.profile', {json.dumps(json.dumps(profile))});"
    )
    state = "() => { const v = document.querySelector('video'); return v ? v.currentTime : -1; }"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=ensure_chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.add_init_script(signed_in)
            page.goto(f"{platform.gateway}/watch/{title_id}")
            page.locator('[data-testid=player][data-state="playing"]').wait_for(timeout=60_000)
            deadline = time.monotonic() + 30
            while page.evaluate(state) < 2 and time.monotonic() < deadline:
                time.sleep(0.25)
            return {"time": page.evaluate(state), "url": page.url}
        finally:
            browser.close()
