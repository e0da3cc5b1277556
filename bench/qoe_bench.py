"""Play delay, stalls and the rendition reached, per link, in headless Chromium: a title played
through the platform in the web app's own player (press Play on the title page; first frame
from the press), beside the floor, the same hls.js with the same first moves on the same files
from a plain static server, measured in the same run; and next to each link's physical floor
(the start rendition's init and first segment over the link rate, plus four round trips).

The links are Chromium's own network emulation (DevTools `Network.emulateNetworkConditions`).
The title is a real CMAF HLS ladder made by ffmpeg the way the encoder makes one (fMP4, aligned
keyframes, 1, 1 and 2 s segments at the start and 4 s ones after, cut by the encoder's own
keyframe rule) and announced as the encoder announces it; the platform runs the
services a play touches (no encoder, search or recommender). A new member's first play starts
from playback's conservative default; `--quick` and the full run then play another title of
the same video on the same device, which starts from what the first play measured (the same
title again would resume where the first play stopped, inside a 4 s segment). Chromium is Debian's
(/usr/bin/chromium, apt-get when missing), never a downloaded one. Prints JSON.

    .venv/bin/python bench/qoe_bench.py [--quick | --tiny] [--watch-s S]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import imageio_ffmpeg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.playback.media import publish, start_session
from tests.support.media_stores import publish_asset
from tests.support.platform import LocalPlatform
from tests.support.users import admin, sign_up
from tests.web.conftest import CHROMIUM_ARGS, ensure_chromium
from tests.web.play_delay import (
    LINKS,
    Link,
    Play,
    StaticFloor,
    play_floor,
    play_in_app,
    player_files,
)
from tests.web.play_delay import signed_in_context as signed_in_page

from cinemesh.benchsuite.rows import row
from cinemesh.contracts.media import AssetReady, Rendition
from cinemesh.services.encoder.public import (
    EncodeOptions,
    keyframe_expression,
    segmenter_time_s,
)

SERVICES = ["registry", "identity", "profiles", "catalog", "playback", "edge", "history", "gateway"]
SEGMENT_S = 4
# name, width, height, video bit rate (kbit/s)
LADDER = [
    ("240p", 426, 240, 300),
    ("360p", 640, 360, 700),
    ("480p", 854, 480, 1200),
    ("720p", 1280, 720, 2300),
    ("1080p", 1920, 1080, 4500),
]
MODES = {
    # source height, seconds, links, seconds watched, a second play on the same device
    "tiny": (360, 12, ["4 Mbit/s 100 ms"], 3.0, False),
    "quick": (720, 28, [link.name for link in LINKS], 20.0, True),
    "full": (1080, 44, [link.name for link in LINKS], 20.0, True),
}


def make_ladder(folder: Path, *, top: int, seconds: int) -> list[Rendition]:
    """A busy test pattern with a tone, as an fMP4 HLS ladder up to `top` lines."""
    rungs = [r for r in LADDER if r[2] <= top]
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    w, h = rungs[-1][1], rungs[-1][2]
    split = ";".join(f"[s{i}]scale={rw}:{rh}[v{i}]" for i, (_, rw, rh, _) in enumerate(rungs))
    args = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y"]
    args += ["-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate=24:duration={seconds}"]
    args += ["-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}"]
    outs = "".join(f"[s{i}]" for i in range(len(rungs)))
    args += ["-filter_complex", f"[0:v]split={len(rungs)}{outs};{split}"]
    for i in range(len(rungs)):
        args += ["-map", f"[v{i}]", "-map", "1:a"]
    gop = str(24 * SEGMENT_S)
    cut = EncodeOptions(segment_s=SEGMENT_S)
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-g", gop, "-keyint_min", gop]
    args += ["-sc_threshold", "0", "-force_key_frames", keyframe_expression(cut)]
    args += ["-c:a", "aac", "-b:a", "96k"]
    for i, (*_, kbps) in enumerate(rungs):
        args += [f"-b:v:{i}", f"{kbps}k", f"-maxrate:v:{i}", f"{kbps}k"]
        args += [f"-bufsize:v:{i}", f"{kbps * 2}k"]
    streams = " ".join(f"v:{i},a:{i},name:{name}" for i, (name, *_) in enumerate(rungs))
    args += ["-f", "hls", "-hls_time", f"{segmenter_time_s(cut):g}", "-hls_playlist_type", "vod"]
    args += ["-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4"]
    args += ["-hls_segment_filename", "%v/seg_%03d.m4s", "-master_pl_name", "master.m3u8"]
    args += ["-var_stream_map", streams, "%v/index.m3u8"]
    folder.mkdir(parents=True)
    subprocess.run(args, cwd=folder, check=True, timeout=900)
    subprocess.run(
        [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=320x180:duration=1", "-frames:v", "1", "poster.jpg"],
        cwd=folder, check=True, timeout=60,
    )  # fmt: skip
    (folder / "thumbs.vtt").write_text(
        f"WEBVTT\n\n00:00:00.000 --> 00:00:{seconds:02d}.000\nposter.jpg#xywh=0,0,320,180\n"
    )
    return [
        Rendition(
            name=name,
            width=rw,
            height=rh,
            bandwidth=(kbps + 96) * 1000,
            codecs="avc1.64001f,mp4a.40.2",
            playlist=f"{name}/index.m3u8",
        )
        for name, rw, rh, kbps in rungs
    ]


def add_movie(
    platform: LocalPlatform,
    package: Path,
    renditions: list[Rendition],
    seconds: int,
    *,
    asset_id: str | None = None,
) -> tuple[str, str]:
    """A title made through the admin API, its video (published unless `asset_id` names one
    already) announced as the encoder announces it: the title and the asset."""
    boss = admin(platform)
    made = httpx.post(
        f"{platform.gateway}/api/v1/admin/titles",
        json={
            "title": "Play Delay",
            "kind": "movie",
            "genres": ["Documentary"],
            "year": 2026,
            "maturity_rating": "PG",
            "synopsis": "A test pattern, played over home links.",
        },
        headers=boss.headers,
        timeout=30,
    )
    made.raise_for_status()
    title_id = str(made.json()["id"])
    if asset_id is None:
        asset_id = f"a{uuid.uuid4().hex[:16]}"
        publish_asset(platform.env, platform.data_dir, asset_id, package)
    ready = AssetReady(
        asset_id=asset_id, title_id=title_id, duration_s=float(seconds), renditions=renditions
    )
    state = platform.layout.read_state() or {}
    bus = {
        **platform.env,
        "CINEMESH_NATS_URL": platform.env.get("CINEMESH_NATS_URL") or state["nats_url"],
        "CINEMESH_BUS_NAMESPACE": platform.env.get("CINEMESH_BUS_NAMESPACE", "cinemesh"),
    }
    publish(bus, ready)
    return title_id, asset_id


def manifest_of(platform: LocalPlatform, title_id: str) -> str:
    """A signed manifest of the title (a session started and stopped at once)."""
    member = sign_up(platform, plan="premium")
    body = {"profile_id": member.profile_id, "title_id": title_id}
    started = start_session(platform.gateway, member.headers, body, wait_s=60)
    started.raise_for_status()
    answer = started.json()
    httpx.delete(
        f"{platform.gateway}/api/v1/playback/sessions/{answer['session_id']}",
        headers=member.headers,
        timeout=10,
    )
    return str(answer["manifest_url"])


def member_page(browser: Any, platform: LocalPlatform) -> Any:
    member = sign_up(platform, plan="premium", profile="Viewer")
    profile = httpx.get(
        f"{platform.gateway}/api/v1/profiles/{member.profile_id}",
        headers=member.headers,
        timeout=10,
    ).json()
    tokens = {"access_token": member.access_token, "refresh_token": member.refresh_token}
    return signed_in_page(browser, platform.gateway, tokens, profile)


def measure_link(
    browser: Any,
    platform: LocalPlatform,
    floor: StaticFloor,
    link: Link,
    *,
    title_ids: tuple[str, str],
    watch_s: float,
    again: bool,
) -> dict[str, Any]:
    page = member_page(browser, platform)
    try:
        link.throttle(page)
        first, other = (f"/title/{t}" for t in title_ids)
        plays = {"first play": play_in_app(page, platform.gateway, first, watch_s=watch_s)}
        if again:
            time.sleep(1)  # the first play's closing beat, with what it measured
            plays["next play"] = play_in_app(page, platform.gateway, other, watch_s=watch_s)
    finally:
        page.context.close()
    found: dict[str, Any] = {}
    for name, app in plays.items():
        plain = play_floor(browser, floor, link, start_bps=app.start_bandwidth_bps, watch_s=watch_s)
        found[name] = {
            "app": as_row(app),
            "floor": as_row(plain),
            "ratio": round(app.first_frame_s / plain.first_frame_s, 2),
            "physical_floor_s": round(floor.physical_floor_s(link, plain.start_height), 3),
        }
    return found


def warm_media_pipeline(browser: Any, floor: StaticFloor) -> None:
    """One unmeasured play: the browser's first video starts its media and audio services,
    which the app's first play on loopback, measured first, paid alone (0.1-1 s)."""
    play_floor(browser, floor, LINKS[0], start_bps=None, watch_s=1)


def as_row(play: Play) -> dict[str, Any]:
    return {
        "first_frame_s": round(play.first_frame_s, 3),
        "stalls": play.stalls,
        "start_height": play.start_height,
        "height_after": play.height_after,
        "start_bandwidth_bps": play.start_bandwidth_bps,
        "session_answer_s": play.session_answer_s,
        "start_fetches": play.start_fetches,
        "first_segment_s": play.first_segment_s,
    }


def summarize(results: dict[str, Any], watch_s: float) -> list[dict[str, Any]]:
    rows = []
    for link, plays in results.items():
        for name, found in plays.items():
            app, floor = found["app"], found["floor"]
            rows += [
                row(
                    f"play delay (s), {link}, {name}",
                    app["first_frame_s"],
                    baseline="same hls.js, same files, plain static server",
                    baseline_value=floor["first_frame_s"],
                    better="lower",
                    goal="<= 1.1x",
                ),
                row(
                    f"rendition after {watch_s:g} s (lines), {link}, {name}",
                    app["height_after"],
                    baseline="floor",
                    baseline_value=floor["height_after"],
                ),
            ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="one link, seconds of watching")
    parser.add_argument("--watch-s", type=float)
    args = parser.parse_args()
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    top, seconds, link_names, watch_s, again = MODES[mode]
    watch_s = args.watch_s or watch_s
    links = [link for link in LINKS if link.name in link_names]
    from playwright.sync_api import sync_playwright

    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="qoe-bench-") as tmp:
        work = Path(tmp)
        renditions = make_ladder(work / "package", top=top, seconds=seconds)
        env = {
            "CINEMESH_GATEWAY_RATE_PER_IP": "0",
            "CINEMESH_GATEWAY_RATE_PER_ACCOUNT": "0",
            "CINEMESH_LOG_LEVEL": "warning",
        }
        (work / "data").mkdir()
        (work / "data" / ".seeded").touch()  # the bench adds the one title it plays
        platform = LocalPlatform(work / "data", services=SERVICES, env=env).start(timeout_s=300)
        try:
            title_id, asset_id = add_movie(platform, work / "package", renditions, seconds)
            other_id, _ = add_movie(
                platform, work / "package", renditions, seconds, asset_id=asset_id
            )
            manifest = manifest_of(platform, title_id)
            files = player_files(platform.gateway)
            floor = StaticFloor(work / "floor", manifest_url=manifest, **files)
            results = {}
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=ensure_chromium(), args=CHROMIUM_ARGS)
                try:
                    warm_media_pipeline(browser, floor)
                    for link in links:
                        results[link.name] = measure_link(
                            browser,
                            platform,
                            floor,
                            link,
                            title_ids=(title_id, other_id),
                            watch_s=watch_s,
                            again=again,
                        )
                finally:
                    browser.close()
                    floor.close()
        finally:
            platform.stop()
    report = {
        "benchmark": "qoe",
        "mode": mode,
        "ladder": [f"{r.name} {r.bandwidth // 1000} kbit/s" for r in renditions],
        "segment_s": SEGMENT_S,
        "watch_s": watch_s,
        "load_average_1m": [round(load_at_start, 1), round(os.getloadavg()[0], 1)],
        "links": results,
        "summary": summarize(results, watch_s),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
