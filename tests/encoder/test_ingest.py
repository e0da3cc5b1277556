"""Uploads through the gateway to a published package, with real processes; and a season's
intro and credits, which the encoder detects once its episodes are packaged."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.encoder.conftest import (
    ENCODER_LIMIT,
    GATEWAY_LIMIT,
    create_title,
    make_video,
    upload,
    wait_for_job,
)
from tests.encoder.hls import check_package
from tests.playback.media import start_session
from tests.support.platform import LocalPlatform
from tests.support.season import add_series, season_videos
from tests.support.users import Member, sign_up


def test_an_upload_becomes_a_checked_package_and_the_title_plays(
    media_platform: LocalPlatform, operator: Member, tmp_path: Path
) -> None:
    title_id = create_title(media_platform, operator)
    source = make_video(tmp_path / "in.mp4", width=640, height=360, seconds=9)
    sent = upload(media_platform, operator, title_id, source)
    assert sent.status_code == 202, sent.text
    job, seen = wait_for_job(media_platform, operator, sent.json()["job_id"])
    assert job["state"] == "ready", job
    assert job["percent"] == 100.0
    assert [p for _, p in seen] == sorted(p for _, p in seen), "percent never goes back"
    ladder = job["result"]["ladder"]
    names = [d["name"] for d in ladder["decisions"]]
    assert names == ["240p", "360p"], "every rung up to the source, none above"
    assert all(0 < d["vmaf"] <= 100 for d in ladder["decisions"])
    kept = [r["name"] for r in job["result"]["renditions"]]
    assert kept == [d["name"] for d in ladder["decisions"] if d["kept"]]
    for rendition in job["result"]["renditions"]:
        assert rendition["bandwidth"] >= rendition["average_bandwidth"] > 0
        assert rendition["vmaf"] is not None
    folder = media_platform.data_dir / "media" / "assets" / job["asset_id"]
    found = check_package(folder, segment_s=4.0)
    assert len(found["variants"]) == len(kept)
    assert found["boundaries"] == [1.0, 2.0, 4.0, 8.0, 9.0]  # 1, 1 and 2 s at the start
    assert not any((media_platform.data_dir / "media" / ".work").iterdir()), "work cleaned up"

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        title = httpx.get(
            f"{media_platform.gateway}/api/v1/titles/{title_id}",
            headers=operator.headers,
            timeout=10,
        ).json()
        if title.get("playable"):
            break
        time.sleep(0.5)
    assert title["asset"]["asset_id"] == job["asset_id"], "catalog linked media.asset.ready"


def test_a_silent_odd_sized_source_gets_the_rungs_it_can_fill(
    media_platform: LocalPlatform, operator: Member, tmp_path: Path
) -> None:
    title_id = create_title(media_platform, operator, "Silent")
    source = make_video(
        tmp_path / "silent.mkv", width=400, height=300, seconds=5, fps=30, audio=False
    )
    sent = upload(media_platform, operator, title_id, source, filename="silent.mkv")
    assert sent.status_code == 202, sent.text
    job, _ = wait_for_job(media_platform, operator, sent.json()["job_id"])
    assert job["state"] == "ready", job
    assert [r["name"] for r in job["result"]["renditions"]] == ["240p"]
    assert job["result"]["renditions"][0]["width"] == 320
    folder = media_platform.data_dir / "media" / "assets" / job["asset_id"]
    check_package(folder, segment_s=4.0, expect_audio=False)


def test_a_hostile_file_name_is_never_used(
    media_platform: LocalPlatform, operator: Member, tmp_path: Path
) -> None:
    title_id = create_title(media_platform, operator, "Hostile")
    source = make_video(tmp_path / "in.mp4", width=320, height=180, seconds=2)
    hostile = "$(touch pwned);`touch pwned2`;-i;../../escaped-upload.mp4"
    sent = upload(media_platform, operator, title_id, source, filename=hostile)
    assert sent.status_code == 202, sent.text
    job, _ = wait_for_job(media_platform, operator, sent.json()["job_id"])
    assert job["state"] == "ready", job
    data = media_platform.data_dir
    stored = sorted(p.name for p in (data / "media" / "sources").iterdir())
    assert stored and all(name.startswith("src-") for name in stored), stored
    for found in (data.rglob("*"), tmp_path.rglob("*"), Path.cwd().glob("*")):
        names = [p.name for p in found]
        assert not [n for n in names if n.startswith(("pwned", "escaped-upload"))], names


def bad_files(tmp_path: Path) -> dict[str, Path]:
    text = tmp_path / "notes.mp4"
    text.write_text("this is a text file, not a movie\n" * 100)
    whole = make_video(tmp_path / "whole.mp4", seconds=6, faststart=True)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    tail_cut = make_video(tmp_path / "moov-at-end.mp4", seconds=6)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(tail_cut.read_bytes()[: tail_cut.stat().st_size // 2])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    return {
        "NOT_A_VIDEO:text": text,
        "TRUNCATED_VIDEO:faststart": truncated,
        "NOT_A_VIDEO:moov-lost": cut,
        "EMPTY_FILE:zero": empty,
    }


@pytest.mark.parametrize(
    "case",
    ["NOT_A_VIDEO:text", "TRUNCATED_VIDEO:faststart", "NOT_A_VIDEO:moov-lost", "EMPTY_FILE:zero"],
)
def test_bad_uploads_are_422_with_a_clear_code(
    media_platform: LocalPlatform, operator: Member, tmp_path: Path, case: str
) -> None:
    title_id = create_title(media_platform, operator, "Bad")
    sent = upload(media_platform, operator, title_id, bad_files(tmp_path)[case])
    assert sent.status_code == 422, sent.text
    assert sent.json()["error"]["code"] == case.split(":")[0]
    assert_no_leftovers(media_platform)


def assert_no_leftovers(platform: LocalPlatform) -> None:
    sources = platform.data_dir / "media" / "sources"
    assert not [p.name for p in sources.iterdir() if p.name.startswith(".incoming")]


def test_over_the_encoders_limit_is_413_while_streaming(
    media_platform: LocalPlatform, operator: Member
) -> None:
    title_id = create_title(media_platform, operator, "Big")
    chunk = b"\0" * (1024 * 1024)

    def body():  # type: ignore[no-untyped-def]
        yield b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="x.mp4"\r\n'
        yield b"Content-Type: video/mp4\r\n\r\n"
        for _ in range(ENCODER_LIMIT // len(chunk) + 4):
            yield chunk
        yield b"\r\n--b0undary--\r\n"

    sent = httpx.post(
        f"{media_platform.gateway}/api/v1/admin/titles/{title_id}/media",
        content=body(),  # chunked: no size declared, counted as it arrives
        headers={**operator.headers, "Content-Type": "multipart/form-data; boundary=b0undary"},
        timeout=120,
    )
    assert sent.status_code == 413, sent.text
    assert sent.json()["error"]["code"] == "FILE_TOO_LARGE"
    assert sent.json()["error"]["details"]["limit_bytes"] == ENCODER_LIMIT
    assert_no_leftovers(media_platform)


def test_a_declared_size_over_the_gateways_limit_is_413_at_once(
    media_platform: LocalPlatform, operator: Member, tmp_path: Path
) -> None:
    title_id = create_title(media_platform, operator, "Huge")
    huge = tmp_path / "huge.mp4"
    with huge.open("wb") as out:
        out.truncate(GATEWAY_LIMIT + 1024 * 1024)
    sent = upload(media_platform, operator, title_id, huge)
    assert sent.status_code == 413, sent.text
    assert sent.json()["error"]["details"]["limit_bytes"] == GATEWAY_LIMIT


def test_upload_needs_an_admin_and_a_multipart_file(
    media_platform: LocalPlatform, operator: Member, tmp_path: Path
) -> None:
    title_id = create_title(media_platform, operator, "Guarded")
    url = f"{media_platform.gateway}/api/v1/admin/titles/{title_id}/media"
    files = {"file": ("a.mp4", b"xyz", "video/mp4")}
    assert httpx.post(url, files=files, timeout=30).status_code == 401
    member = sign_up(media_platform, profile=None)
    denied = httpx.post(url, files=files, headers=member.headers, timeout=30)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "ADMIN_ONLY"
    wrong_field = httpx.post(
        url, files={"video": ("a.mp4", b"xyz")}, headers=operator.headers, timeout=30
    )
    assert wrong_field.status_code == 422
    assert wrong_field.json()["error"]["code"] == "FILE_REQUIRED"
    not_multipart = httpx.post(url, content=b"xyz", headers=operator.headers, timeout=30)
    assert not_multipart.status_code == 415
    unknown = httpx.post(
        f"{media_platform.gateway}/api/v1/admin/titles/no-such-title/media",
        files=files,
        headers=operator.headers,
        timeout=30,
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "TITLE_NOT_FOUND"
    missing = httpx.get(
        f"{media_platform.gateway}/api/v1/admin/jobs/nope", headers=operator.headers, timeout=10
    )
    assert missing.status_code == 404
    assert_no_leftovers(media_platform)


SRT_EN = "1\n00:00:00,200 --> 00:00:01,500\n[door creaks] Hello.\n"
VTT_FR = "WEBVTT\n\n00:00.300 --> 00:01.800\nBonjour.\n"


def upload_subtitles(
    platform: LocalPlatform, who: Member, title_id: str, text: bytes, **form: str
) -> httpx.Response:
    return httpx.post(
        f"{platform.gateway}/api/v1/admin/titles/{title_id}/subtitles",
        files={"file": ("track.srt", text, "text/plain")},
        data=form,
        headers=who.headers,
        timeout=60,
    )


def test_subtitles_are_checked_published_in_the_master_and_served_by_the_edge(
    media_platform: LocalPlatform, operator: Member, tmp_path: Path
) -> None:
    title_id = create_title(media_platform, operator, "Subtitled")
    for bad, code in [
        (b"\x00\x01binary\x00", "NOT_SUBTITLES"),
        (b"", "SUBTITLES_EMPTY"),
        ("1\n00:00:01,000 --> 00:00:02,000\nCaf\xe9\n".encode("latin-1"), "SUBTITLES_NOT_UTF8"),
        (b"1\n00:00:03,000 --> 00:00:02,000\nbackwards\n", "SUBTITLES_BAD_CUE_TIMES"),
    ]:
        refused = upload_subtitles(media_platform, operator, title_id, bad, language="en")
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == code
    odd = upload_subtitles(media_platform, operator, title_id, SRT_EN.encode(), language="e n")
    assert odd.status_code == 422, odd.text
    captions = upload_subtitles(
        media_platform, operator, title_id, SRT_EN.encode(), language="en", kind="captions"
    )
    assert captions.status_code == 201, captions.text
    assert captions.json()["job_id"] is None, "no video yet: the next upload publishes it"
    assert captions.json()["name"] == "English (CC)"

    sent = upload(media_platform, operator, title_id, make_video(tmp_path / "in.mp4", seconds=2))
    assert sent.status_code == 202, sent.text
    job, _ = wait_for_job(media_platform, operator, sent.json()["job_id"])
    assert job["state"] == "ready", job
    assert [s["language"] for s in job["result"]["subtitles"]] == ["en"]

    # a track added once the title plays is published by packaging its source again
    french = upload_subtitles(media_platform, operator, title_id, VTT_FR.encode(), language="fr")
    assert french.status_code == 201, french.text
    again, _ = wait_for_job(media_platform, operator, french.json()["job_id"])
    assert again["state"] == "ready", again
    assert [s["language"] for s in again["result"]["subtitles"]] == ["en", "fr"]

    member = sign_up(media_platform)
    body = {"profile_id": member.profile_id, "title_id": title_id}
    deadline = time.monotonic() + 30
    while True:  # the catalog links the newer asset once its event arrives
        started = start_session(media_platform.gateway, member.headers, body, wait_s=30)
        assert started.status_code == 201, started.text
        session = started.json()
        if again["asset_id"] in session["manifest_path"] or time.monotonic() > deadline:
            break
        httpx.delete(
            f"{media_platform.gateway}/api/v1/playback/sessions/{session['session_id']}",
            headers=member.headers,
            timeout=10,
        )
        time.sleep(0.5)
    edge = session["edge_urls"][0]
    base = edge + session["manifest_path"].rsplit("/", 1)[0] + "/"
    master = httpx.get(edge + session["manifest_path"], timeout=10).text
    media = [line for line in master.splitlines() if line.startswith("#EXT-X-MEDIA:")]
    assert len(media) == 2 and all("TYPE=SUBTITLES" in m for m in media), master
    assert 'LANGUAGE="en"' in media[0] and "describes-music-and-sound" in media[0]
    assert 'LANGUAGE="fr"' in media[1] and "CHARACTERISTICS" not in media[1]
    assert all('SUBTITLES="subs"' in v for v in master.splitlines() if "STREAM-INF" in v)
    playlist_uri = media[1].split('URI="', 1)[1].rstrip('"')
    playlist = httpx.get(base + playlist_uri, timeout=10)
    assert playlist.status_code == 200 and "#EXT-X-ENDLIST" in playlist.text
    segment = playlist_uri.rsplit("/", 1)[0] + "/" + playlist.text.split(".vtt")[0].split()[-1]
    cues = httpx.get(base + segment + ".vtt", timeout=10)
    assert cues.status_code == 200, cues.text
    assert cues.headers["content-type"].startswith("text/vtt")
    assert "Bonjour." in cues.text and "X-TIMESTAMP-MAP" in cues.text
    unsigned = httpx.get(edge + f"/{again['asset_id']}/{segment}.vtt", timeout=10)
    assert unsigned.status_code in (403, 404), "subtitles are behind the signed URL too"


MARKERS_TOLERANCE_S = 1.0


def admin_api(platform: LocalPlatform, who: Member, method: str, path: str, **kw: Any) -> Any:
    answer = httpx.request(
        method, f"{platform.gateway}/api/v1{path}", headers=who.headers, timeout=60, **kw
    )
    assert answer.status_code in (200, 201, 202), answer.text
    return answer.json()


def episodes_of_series(
    platform: LocalPlatform, who: Member, series_id: str
) -> list[dict[str, Any]]:
    title = admin_api(platform, who, "GET", f"/titles/{series_id}")
    return [e for season in title["seasons"] for e in season["episodes"]]


def test_a_packaged_season_gets_its_intro_and_credits_but_an_admins_markers_stay(
    media_platform: LocalPlatform, operator: Member, tmp_path: Path
) -> None:
    season = season_videos(
        tmp_path, offsets=(2.0, 8.03, 4.51), durations=(36.0, 40.0, 38.0), credits_s=10.0
    )
    series_id, ids = add_series(
        media_platform, operator, title="Detected Harbour", episodes=len(season)
    )
    admin_marks = {"intro_start_s": 1.0, "intro_end_s": 3.0}
    admin_api(media_platform, operator, "PATCH", f"/admin/titles/{series_id}/episodes/{ids[2]}",
              json=admin_marks)  # fmt: skip
    for episode_id, episode in zip(ids, season, strict=True):
        with episode.path.open("rb") as video:
            sent = admin_api(media_platform, operator, "POST", f"/admin/titles/{series_id}/media",
                             params={"episode_id": episode_id},
                             files={"file": (episode.path.name, video, "video/mp4")})  # fmt: skip
        job, _ = wait_for_job(media_platform, operator, sent["job_id"])
        assert job["state"] == "ready", job

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        found = episodes_of_series(media_platform, operator, series_id)
        if all(e["markers_source"] == "detected" for e in found[:2]):
            break
        time.sleep(0.5)
    first, second, third = found
    for seen, truth in ((first, season[0]), (second, season[1])):
        assert seen["markers_source"] == "detected", found
        assert truth.intro is not None and truth.credits is not None
        assert abs(seen["intro_start_s"] - truth.intro[0]) <= MARKERS_TOLERANCE_S, (seen, truth)
        assert abs(seen["intro_end_s"] - truth.intro[1]) <= MARKERS_TOLERANCE_S, (seen, truth)
        assert abs(seen["credits_start_s"] - truth.credits[0]) <= MARKERS_TOLERANCE_S, (seen, truth)
    kept = (third["intro_start_s"], third["intro_end_s"], third["credits_start_s"])
    assert (*kept, third["markers_source"]) == (1.0, 3.0, None, "admin"), third
