"""What a member uses every evening, in headless Chromium against the whole platform: a title
with two subtitle and two audio languages (cues of the chosen language at their times, the
audio track switched in hls.js), and a generated season whose shared intro the encoder found
by itself ("Skip intro" jumps past it, "Next episode" starts episode 2, which continue watching
then offers). The videos are tiny (160x90, one rung) and made here with ffmpeg."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import imageio_ffmpeg
import pytest

from tests.support.platform import LocalPlatform
from tests.support.season import add_series, season_videos
from tests.support.users import Member, admin, sign_up
from tests.web.catalog import wait_ready
from tests.web.test_watch_scenario import PLAYER, open_as, player_state, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
TOLERANCE_S = 1.0
SRT_EN = "1\n00:00:01,000 --> 00:00:02,500\nHello.\n\n2\n00:00:04,000 --> 00:00:05,500\nGoodbye.\n"
VTT_FR = "WEBVTT\n\n00:01.000 --> 00:02.500\nBonjour.\n\n00:04.000 --> 00:05.500\nAu revoir.\n"


@pytest.fixture(scope="module")
def boss(platform: LocalPlatform) -> Member:
    return admin(platform)


def call(platform: LocalPlatform, who: Member, method: str, path: str, **kw: Any) -> Any:
    answer = httpx.request(
        method, f"{platform.gateway}/api/v1{path}", headers=who.headers, timeout=120, **kw
    )
    assert answer.status_code in (200, 201, 202), answer.text
    return answer.json()


def ingest(platform: LocalPlatform, who: Member, title_id: str, video: Path, **params: str) -> None:
    with video.open("rb") as body:
        sent = call(platform, who, "POST", f"/admin/titles/{title_id}/media", params=params,
                    files={"file": (video.name, body, "video/mp4")})  # fmt: skip
    wait_ready(platform, who, str(sent["job_id"]), timeout_s=300)


def two_languages(path: Path, *, seconds: int = 12) -> Path:
    """A tiny picture with an English and a French audio stream (tones an octave apart)."""
    args = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y"]
    args += ["-f", "lavfi", "-i", f"testsrc2=size=160x90:rate=8:duration={seconds}"]
    for frequency in (440, 880):
        args += ["-f", "lavfi", "-i", f"sine=frequency={frequency}:duration={seconds}"]
    args += ["-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "libx264", "-preset"]
    args += ["ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    args += ["-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fre"]
    subprocess.run([*args, str(path)], check=True, timeout=120)
    return path


def showing_cues(page: Any) -> dict[str, Any]:
    """The text track on screen: its language and cues (start, end, text), and what is active."""
    return dict(
        page.evaluate(
            """() => {
              const track = [...document.querySelector('video').textTracks]
                .find((t) => t.mode === 'showing');
              if (!track) return {language: null, cues: [], active: []};
              const cues = (list) => [...(list || [])].map((c) => [c.startTime, c.endTime, c.text]);
              return {language: track.language, cues: cues(track.cues), active: cues(track.activeCues)};
            }"""
        )
    )


def shows_only(page: Any, text: str) -> bool:
    """Whether the one active cue becomes `text` (a seek's old cue stays active until it lands)."""

    def active() -> list[str]:
        return [cue_text for _, _, cue_text in showing_cues(page)["active"]]

    return bool(wait_for(lambda: active() == [text], timeout_s=10))


def choose_track(page: Any, heading: str, name: str) -> None:
    """Through the player's own menu, as a member does: the item `name` under `heading` (audio
    items come first, and both lists name the same languages)."""
    page.mouse.move(400, 300)
    page.locator("[data-control=tracks]").click()
    items = f'.tracks-menu .menu-heading:has-text("{heading}") ~ button:has-text("{name}")'
    page.locator(items).first.click()


def at(page: Any, seconds: float, *, pause: bool = False) -> None:
    page.evaluate(
        """([t, pause]) => { const v = document.querySelector('video');
                             if (pause) v.pause();
                             v.currentTime = t; }""",
        [seconds, pause],
    )


def ffmpeg_streams(manifest_url: str) -> str:
    """What ffmpeg's HLS reader lists in the published master playlist."""
    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", manifest_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stderr


def test_subtitles_and_audio_languages_switch_in_the_browser(
    browser: Any, platform: LocalPlatform, boss: Member, tmp_path: Path, artifacts: Path
) -> None:
    title = call(platform, boss, "POST", "/admin/titles",
                 json={"title": "Two Tongues", "kind": "movie", "genres": ["Drama"]})  # fmt: skip
    for text, language in ((SRT_EN, "en"), (VTT_FR, "fr")):
        call(platform, boss, "POST", f"/admin/titles/{title['id']}/subtitles",
             files={"file": (f"{language}.srt", text.encode(), "text/plain")},
             data={"language": language})  # fmt: skip
    ingest(platform, boss, title["id"], two_languages(tmp_path / "two.mp4"))
    member = sign_up(platform)

    started = call(platform, member, "POST", "/playback/sessions",
                   json={"profile_id": member.profile_id, "title_id": title["id"]})  # fmt: skip
    listed = ffmpeg_streams(started["manifest_url"])
    audio = [line for line in listed.splitlines() if "Audio:" in line]
    assert any(re.search(r"\((en|eng)\)", line) for line in audio), listed
    assert any(re.search(r"\((fr|fre|fra)\)", line) for line in audio), listed
    assert sum("Subtitle: webvtt" in line for line in listed.splitlines()) >= 2, listed
    httpx.delete(f"{platform.gateway}/api/v1/playback/sessions/{started['session_id']}",
                 headers=member.headers, timeout=10)  # fmt: skip

    page = open_as(browser, platform, member, f"/watch/{title['id']}")
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    try:
        page.locator(f'{PLAYER}[data-state="playing"]').wait_for(timeout=30_000)
        tracks = page.evaluate(
            """() => { const hls = window.cinemeshPlayer.hls;
                       return {audio: hls.audioTracks.map((t) => [t.lang, t.name]),
                               subtitles: hls.subtitleTracks.map((t) => [t.lang, t.name]),
                               playing: hls.audioTrack}; }"""
        )
        assert [lang for lang, _ in tracks["audio"]] == ["en", "fr"], tracks
        assert [lang for lang, _ in tracks["subtitles"]] == ["en", "fr"], tracks
        assert tracks["playing"] == 0, tracks

        choose_track(page, "Subtitles", dict(tracks["subtitles"])["fr"])
        seen = wait_for(lambda: len(showing_cues(page)["cues"]) == 2 and showing_cues(page),
                        timeout_s=20)  # fmt: skip
        assert seen and seen["language"] == "fr", showing_cues(page)
        assert [text for _, _, text in seen["cues"]] == ["Bonjour.", "Au revoir."], seen
        for (start, end, _), want in zip(seen["cues"], ((1.0, 2.5), (4.0, 5.5)), strict=True):
            assert abs(start - want[0]) <= 0.1 and abs(end - want[1]) <= 0.1, seen
        at(page, 4.6, pause=True)
        assert shows_only(page, "Au revoir."), showing_cues(page)
        page.screenshot(path=artifacts / "15-french-subtitles.png")

        choose_track(page, "Subtitles", dict(tracks["subtitles"])["en"])
        english = wait_for(
            lambda: showing_cues(page)["language"] == "en" and len(showing_cues(page)["cues"]) == 2,
            timeout_s=20,
        )
        assert english, showing_cues(page)
        at(page, 1.7)
        assert shows_only(page, "Hello."), showing_cues(page)

        page.evaluate("document.querySelector('video').play()")
        assert not [u for u in fetched if "/audio_1_fr/" in u], "French audio before choosing it"
        choose_track(page, "Audio", dict(tracks["audio"])["fr"])
        switched = wait_for(
            lambda: page.evaluate("window.cinemeshPlayer.hls.audioTrack") == 1, timeout_s=15
        )
        assert switched, page.evaluate("window.cinemeshPlayer.hls.audioTrack")
        french_audio = wait_for(  # a loaded host's player can take a while to ask (seen in CI)
            lambda: [u for u in fetched if "/audio_1_fr/" in u and u.endswith(".m4s")], timeout_s=30
        )
        assert french_audio, ([u for u in fetched if "audio_" in u], player_state(page))
        before = player_state(page)["time"]
        assert wait_for(lambda: player_state(page)["time"] >= before + 1, timeout_s=20)
        french = page.locator(
            ".tracks-menu button[aria-checked=true]", has_text=tracks["audio"][1][1]
        )
        assert french.count() == 1, "the menu shows the French audio chosen"
    finally:
        page.context.close()


def markers_found(platform: LocalPlatform, who: Member, series_id: str) -> list[dict[str, Any]]:
    title = call(platform, who, "GET", f"/titles/{series_id}")
    episodes = [e for season in title["seasons"] for e in season["episodes"]]
    return episodes if all(e["markers_source"] == "detected" for e in episodes) else []


def test_a_detected_intro_is_skipped_and_next_episode_plays_and_is_continued(
    browser: Any, platform: LocalPlatform, boss: Member, tmp_path: Path, artifacts: Path
) -> None:
    season = season_videos(
        tmp_path, offsets=(2.0, 8.03, 4.51), durations=(36.0, 40.0, 38.0), credits_s=10.0
    )
    series_id, ids = add_series(
        platform, boss, title="Shared Theme", episodes=len(season), name="Chapter {}"
    )
    for episode_id, episode in zip(ids, season, strict=True):
        ingest(platform, boss, series_id, episode.path, episode_id=episode_id)
    found = wait_for(lambda: markers_found(platform, boss, series_id), timeout_s=90, every_s=1)
    assert found, call(platform, boss, "GET", f"/titles/{series_id}")
    for seen, truth in zip(found, season, strict=True):
        assert truth.intro is not None
        assert abs(seen["intro_start_s"] - truth.intro[0]) <= TOLERANCE_S, (seen, truth)
        assert abs(seen["intro_end_s"] - truth.intro[1]) <= TOLERANCE_S, (seen, truth)
        assert truth.credits is not None and seen["credits_start_s"] is not None, seen
        assert abs(seen["credits_start_s"] - truth.credits[0]) <= TOLERANCE_S, (seen, truth)

    member = sign_up(platform)
    page = open_as(browser, platform, member, f"/watch/{series_id}?episode={ids[0]}")
    try:
        page.locator(f'{PLAYER}[data-state="playing"]').wait_for(timeout=30_000)
        skip = page.locator("[data-control=skip-intro]")
        skip.wait_for(state="visible", timeout=20_000)
        page.screenshot(path=artifacts / "16-detected-intro.png")
        skip.click()
        assert player_state(page)["time"] >= found[0]["intro_end_s"] - 0.1, player_state(page)
        assert season[0].intro and player_state(page)["time"] >= season[0].intro[1] - TOLERANCE_S
        skip.wait_for(state="hidden", timeout=5_000)

        at(page, found[0]["credits_start_s"] + 0.5)
        up_next = page.locator(".up-next")
        up_next.wait_for(state="visible", timeout=15_000)
        assert "Next: E2 “Chapter 2”" in up_next.inner_text(), up_next.inner_text()
        assert page.locator("[data-control=next]").inner_text() == "Next: E2 “Chapter 2”"
        page.screenshot(path=artifacts / "17-next-episode.png")
        with page.expect_request(
            lambda r: r.method == "POST" and r.url.endswith("/api/v1/playback/sessions"),
            timeout=20_000,
        ) as next_session:
            up_next.get_by_role("button", name="Play now").click()
        assert next_session.value.post_data_json["episode_id"] == ids[1]
        page.wait_for_url(f"**/watch/{series_id}?episode={ids[1]}", timeout=10_000)
        page.locator(f'{PLAYER}[data-state="playing"]').wait_for(timeout=30_000)
        assert wait_for(lambda: player_state(page)["time"] >= 4, timeout_s=20), player_state(page)
        page.evaluate("document.querySelector('video').pause()")  # a heartbeat at the pause
        assert wait_for(lambda: int(player_state(page).get("heartbeats", "0")) >= 1, timeout_s=10)

        def continued() -> bool:
            page.goto(platform.gateway + "/")
            page.locator(".home").wait_for()
            card = page.locator(
                f'[data-row-id="continue-watching"] .card[data-title-id="{series_id}"]'
            )
            return card.count() == 1 and f"episode={ids[1]}" in (card.get_attribute("href") or "")

        assert wait_for(continued, timeout_s=30, every_s=1), "episode 2 is not continued"
        page.screenshot(path=artifacts / "18-continue-episode-2.png", full_page=True)
    finally:
        page.context.close()
