"""Pressing play through the gateway: entitlement, stream leases per plan across two playback
instances, capped and signed manifests, resume positions, and a player that survives an edge
dying under it."""

from __future__ import annotations

import base64
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from cinemesh.contracts.catalog import TitleDeleted
from cinemesh.contracts.playback import PlaybackStarted
from cinemesh.runner.local import LocalPlatform
from tests.playback.fixtures import LEASE_S
from tests.playback.media import (
    HlsPlayer,
    Title,
    add_title,
    collect,
    parse_master,
    publish,
    start_session,
)
from tests.support.users import Member, sign_up


def _title(platform: LocalPlatform, package: Path, rating: str = "PG", ready: bool = True) -> Title:
    return add_title(
        env=platform.env, data_dir=platform.data_dir, package=package, rating=rating, ready=ready
    )


def _play(platform: LocalPlatform, member: Member, title: Title) -> httpx.Response:
    body = {"profile_id": member.profile_id, "title_id": title.title_id}
    return start_session(platform.gateway, member.headers, body)


def test_a_start_from_a_home_row_names_the_row_in_its_event(
    media_platform: LocalPlatform, hls_package: Path
) -> None:
    """Experiments count the starts made from a recommendation row by the row the player
    names (contracts/rows.py); a start from no row says so."""
    member = sign_up(media_platform, plan="premium")
    title = _title(media_platform, hls_package)
    row = "because-you-watched:some title"
    body = {"profile_id": member.profile_id, "title_id": title.title_id, "row": row}
    from_row = start_session(media_platform.gateway, member.headers, body)
    assert from_row.status_code == 201, from_row.text
    _stop(media_platform, member, from_row.json()["session_id"])
    from_search = _play(media_platform, member, title)
    assert from_search.status_code == 201, from_search.text
    rows = {}
    for _ in range(10):
        events = collect(media_platform.env, PlaybackStarted.TYPE, seconds=1.0)
        rows = {e.data["session_id"]: e.data.get("row") for e in events}
        if {from_row.json()["session_id"], from_search.json()["session_id"]} <= set(rows):
            break
    assert rows[from_row.json()["session_id"]] == row
    assert rows[from_search.json()["session_id"]] is None


def _stop(platform: LocalPlatform, member: Member, session_id: str) -> None:
    response = httpx.delete(
        f"{platform.gateway}/api/v1/playback/sessions/{session_id}",
        headers=member.headers,
        timeout=10,
    )
    assert response.status_code == 204, response.text


def _heartbeat(
    platform: LocalPlatform, member: Member, session_id: str, position_s: float
) -> httpx.Response:
    return httpx.post(
        f"{platform.gateway}/api/v1/playback/sessions/{session_id}/heartbeat",
        json={"position_s": position_s},
        headers=member.headers,
        timeout=10,
    )


def test_a_session_has_a_signed_capped_manifest_and_ranked_edges(
    media_platform: LocalPlatform, hls_package: Path
) -> None:
    member = sign_up(media_platform, plan="basic")
    title = _title(media_platform, hls_package)
    started = _play(media_platform, member, title)
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["max_height"] == 720
    assert body["resume_position_s"] == 0
    assert f"/{title.asset_id}~720/master.m3u8" in body["manifest_url"]
    edges = {f"http://127.0.0.1:{i['public_port']}" for i in media_platform.instances("edge")}
    assert set(body["edge_urls"]) == edges and len(edges) == 2
    assert body["manifest_url"] == body["edge_urls"][0] + body["manifest_path"]
    exp = int(body["manifest_path"].split("/")[2])
    assert abs(exp - time.time() - 6 * 3600) < 120
    master = httpx.get(body["manifest_url"], timeout=10)
    assert master.status_code == 200
    assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert [uri for _a, uri in parse_master(master.text)] == ["180p/index.m3u8", "360p/index.m3u8"]
    _stop(media_platform, member, body["session_id"])


def test_basic_plan_second_stream_is_refused_until_the_first_stops(
    media_platform: LocalPlatform, hls_package: Path
) -> None:
    member = sign_up(media_platform, plan="basic")
    title = _title(media_platform, hls_package)
    first = _play(media_platform, member, title)
    assert first.status_code == 201, first.text
    for _ in range(4):  # both playback instances, whichever the gateway picks
        second = _play(media_platform, member, title)
        assert second.status_code == 429, second.text
        assert second.json()["error"]["code"] == "STREAM_LIMIT"
    _stop(media_platform, member, first.json()["session_id"])
    third = _play(media_platform, member, title)
    assert third.status_code == 201, third.text
    _stop(media_platform, member, third.json()["session_id"])


def test_a_stream_frees_itself_when_heartbeats_stop(
    media_platform: LocalPlatform, hls_package: Path
) -> None:
    member = sign_up(media_platform, plan="basic")
    title = _title(media_platform, hls_package)
    first = _play(media_platform, member, title)
    assert first.status_code == 201, first.text
    session_id = first.json()["session_id"]
    time.sleep(LEASE_S * 0.5)
    assert _heartbeat(media_platform, member, session_id, 1.0).status_code == 200
    time.sleep(LEASE_S * 0.6)  # past the first lease: the heartbeat renewed it
    assert _play(media_platform, member, title).status_code == 429
    time.sleep(LEASE_S + 0.5)  # no heartbeat: the lease runs out
    again = _play(media_platform, member, title)
    assert again.status_code == 201, again.text
    ended = _heartbeat(media_platform, member, session_id, 2.0)
    assert ended.status_code == 410 and ended.json()["error"]["code"] == "SESSION_ENDED"


def test_racing_starts_on_two_instances_never_exceed_the_plan(
    media_platform: LocalPlatform, hls_package: Path
) -> None:
    member = sign_up(media_platform, plan="standard")
    title = _title(media_platform, hls_package)
    warm = _play(media_platform, member, title)  # the title's events have arrived
    assert warm.status_code == 201, warm.text
    _stop(media_platform, member, warm.json()["session_id"])
    body = {"profile_id": member.profile_id, "title_id": title.title_id}

    def press_play(_: int) -> int:
        return httpx.post(
            f"{media_platform.gateway}/api/v1/playback/sessions",
            json=body,
            headers=member.headers,
            timeout=20,
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(press_play, range(8)))
    assert statuses == [201, 201] + [429] * 6, statuses


def test_kids_profile_cannot_play_an_adult_title(
    media_platform: LocalPlatform, hls_package: Path
) -> None:
    kid = sign_up(media_platform, plan="premium", kids=True)
    adult_title = _title(media_platform, hls_package, rating="R")
    refused = _play(media_platform, kid, adult_title)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "MATURITY_RESTRICTED"
    family_title = _title(media_platform, hls_package, rating="G")
    allowed = _play(media_platform, kid, family_title)
    assert allowed.status_code == 201, allowed.text
    _stop(media_platform, kid, allowed.json()["session_id"])


def test_titles_without_video_profiles_of_others_and_bad_input(
    media_platform: LocalPlatform, hls_package: Path
) -> None:
    member = sign_up(media_platform, plan="premium")
    other = sign_up(media_platform, plan="premium")
    coming_soon = _title(media_platform, hls_package, ready=False)
    time.sleep(1.0)
    not_ready = httpx.post(
        f"{media_platform.gateway}/api/v1/playback/sessions",
        json={"profile_id": member.profile_id, "title_id": coming_soon.title_id},
        headers=member.headers,
        timeout=10,
    )
    assert not_ready.status_code == 409, not_ready.text
    assert not_ready.json()["error"]["code"] == "NOT_PLAYABLE"
    title = _title(media_platform, hls_package)
    assert _play(media_platform, member, title).status_code == 201
    someone_elses = start_session(
        media_platform.gateway,
        member.headers,
        {"profile_id": other.profile_id, "title_id": title.title_id},
        wait_s=0,
    )
    assert someone_elses.status_code == 404
    for bad in (
        {"profile_id": member.profile_id},
        {"profile_id": "../x", "title_id": title.title_id},
        {"profile_id": member.profile_id, "title_id": "x" * 500},
        {"profile_id": member.profile_id, "title_id": title.title_id, "episode_id": ""},
        {"profile_id": member.profile_id, "title_id": title.title_id, "row": "top-picks\x00"},
        {"profile_id": member.profile_id, "title_id": title.title_id, "row": "x" * 161},
        {"profile_id": member.profile_id, "title_id": title.title_id, "row": ""},
    ):
        answer = httpx.post(
            f"{media_platform.gateway}/api/v1/playback/sessions",
            json=bad,
            headers=member.headers,
            timeout=10,
        )
        assert answer.status_code == 422, (bad, answer.text)
    for bad_beat in ({"position_s": -1}, {"position_s": "soon"}, {}):
        answer = httpx.post(
            f"{media_platform.gateway}/api/v1/playback/sessions/abc/heartbeat",
            json=bad_beat,
            headers=member.headers,
            timeout=10,
        )
        assert answer.status_code == 422, answer.text
    unknown = _heartbeat(media_platform, member, "0" * 32, 1.0)
    assert unknown.status_code == 404
    no_token = httpx.post(
        f"{media_platform.gateway}/api/v1/playback/sessions",
        json={"profile_id": member.profile_id, "title_id": title.title_id},
        timeout=10,
    )
    assert no_token.status_code == 401


def test_sessions_of_another_account_cannot_be_touched(
    media_platform: LocalPlatform, hls_package: Path
) -> None:
    owner = sign_up(media_platform, plan="basic")
    stranger = sign_up(media_platform, plan="basic")
    title = _title(media_platform, hls_package)
    started = _play(media_platform, owner, title)
    assert started.status_code == 201
    session_id = started.json()["session_id"]
    assert _heartbeat(media_platform, stranger, session_id, 3.0).status_code == 404
    gone = httpx.delete(
        f"{media_platform.gateway}/api/v1/playback/sessions/{session_id}",
        headers=stranger.headers,
        timeout=10,
    )
    assert gone.status_code == 404
    assert _play(media_platform, owner, title).status_code == 429  # still the owner's stream


def test_playing_again_resumes_where_the_profile_stopped(
    media_platform: LocalPlatform, hls_package: Path
) -> None:
    member = sign_up(media_platform, plan="premium")
    title = _title(media_platform, hls_package)
    first = _play(media_platform, member, title).json()
    assert _heartbeat(media_platform, member, first["session_id"], 3.5).status_code == 200
    _stop(media_platform, member, first["session_id"])
    deadline = time.monotonic() + 5
    resumed = 0.0
    while time.monotonic() < deadline:
        again = _play(media_platform, member, title).json()
        _stop(media_platform, member, again["session_id"])
        resumed = again["resume_position_s"]
        if resumed:
            break
        time.sleep(0.2)
    assert resumed == 3.5


def test_player_finishes_with_no_failed_segment_when_an_edge_dies(
    media_platform: LocalPlatform, hls_package: Path
) -> None:
    member = sign_up(media_platform, plan="premium")
    title = _title(media_platform, hls_package)
    started = _play(media_platform, member, title).json()
    edges = {
        f"http://127.0.0.1:{i['public_port']}": i["instance"]
        for i in media_platform.instances("edge")
    }
    killed: list[int] = []

    def kill_current_edge(index: int, player: HlsPlayer) -> None:
        if index == 0:
            killed.append(media_platform.kill("edge", edges[player.edges[player.current]]))

    player = HlsPlayer(started["edge_urls"], started["manifest_path"], speed=4.0)
    report = player.play(on_segment=kill_current_edge)
    assert killed
    assert report.failed == [] and report.late == [], report
    assert report.segments == 4
    assert report.failovers >= 1 and len(report.edges_used) == 2, report
    _stop(media_platform, member, started["session_id"])
    media_platform.wait_healthy(service="edge", count=2, timeout_s=60)


def test_plan_claim_sets_the_cap(media_platform: LocalPlatform, hls_package: Path) -> None:
    member = sign_up(media_platform, plan="premium")
    claims = json.loads(base64.urlsafe_b64decode(member.access_token.split(".")[1] + "=="))
    assert claims["plan"] == "premium"
    title = _title(media_platform, hls_package)
    body = _play(media_platform, member, title).json()
    assert body["max_height"] == 2160 and f"/{title.asset_id}~2160/" in body["manifest_path"]
    _stop(media_platform, member, body["session_id"])


def test_a_deleted_title_stops_being_playable(
    media_platform: LocalPlatform, hls_package: Path
) -> None:
    member = sign_up(media_platform, plan="premium")
    title = _title(media_platform, hls_package)
    started = _play(media_platform, member, title)
    assert started.status_code == 201
    _stop(media_platform, member, started.json()["session_id"])
    publish(media_platform.env, TitleDeleted(title_id=title.title_id))
    deadline = time.monotonic() + 5
    status = 201
    while time.monotonic() < deadline and status != 404:
        answer = start_session(
            media_platform.gateway,
            member.headers,
            {"profile_id": member.profile_id, "title_id": title.title_id},
            wait_s=0,
        )
        status = answer.status_code
        if status == 201:
            _stop(media_platform, member, answer.json()["session_id"])
        time.sleep(0.2)
    assert status == 404


def test_a_retried_start_with_the_same_session_id_takes_one_stream(
    media_platform: LocalPlatform, hls_package: Path
) -> None:
    """The gateway names each start, so a retry after an instance died mid-call is safe."""
    member = sign_up(media_platform, plan="basic")
    title = _title(media_platform, hls_package)
    known = _play(media_platform, member, title)  # waits until playback knows the title
    assert known.status_code == 201, known.text
    _stop(media_platform, member, known.json()["session_id"])
    headers = {**media_platform.headers, **member.headers}
    body = {"profile_id": member.profile_id, "title_id": title.title_id}
    named = {**body, "session_id": uuid.uuid4().hex}
    answers = [
        httpx.post(
            media_platform.url_of("playback", n % 2) + "/v1/sessions",
            json=named,
            headers=headers,
            timeout=10,
        )
        for n in range(2)
    ]
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert answers[0].json()["session_id"] == answers[1].json()["session_id"] == named["session_id"]
    other = {**body, "session_id": uuid.uuid4().hex}
    second_stream = httpx.post(
        media_platform.url_of("playback") + "/v1/sessions", json=other, headers=headers, timeout=10
    )
    assert second_stream.status_code == 429, "the retry must not have freed or taken a stream"


def _play_on(
    platform: LocalPlatform, member: Member, title: Title, device: str
) -> dict[str, object]:
    body = {"profile_id": member.profile_id, "title_id": title.title_id, "device": device}
    started = start_session(platform.gateway, member.headers, body)
    assert started.status_code == 201, started.text
    return dict(started.json())


def _beat_bandwidth(
    platform: LocalPlatform, member: Member, session_id: object, bandwidth_bps: object
) -> httpx.Response:
    return httpx.post(
        f"{platform.gateway}/api/v1/playback/sessions/{session_id}/heartbeat",
        json={"position_s": 1.0, "bandwidth_bps": bandwidth_bps},
        headers=member.headers,
        timeout=10,
    )


def test_a_play_starts_from_the_link_this_profile_measured_on_this_device(
    media_platform: LocalPlatform, hls_package: Path
) -> None:
    member = sign_up(media_platform, plan="premium")
    title = _title(media_platform, hls_package)
    first = _play_on(media_platform, member, title, "tv-1")
    assert first["start_bandwidth_bps"] == 500_000  # a first play: the conservative default
    assert first["start_bandwidth_measured"] is False
    beat = _beat_bandwidth(media_platform, member, first["session_id"], 8_000_000)
    assert beat.status_code == 200, beat.text
    _stop(media_platform, member, str(first["session_id"]))

    fast = _play_on(media_platform, member, title, "tv-1")
    assert fast["start_bandwidth_measured"] is True
    assert fast["start_bandwidth_bps"] == 5_600_000  # a margin under what it measured
    other_device = _play_on(media_platform, member, title, "phone-1")
    assert other_device["start_bandwidth_bps"] == 500_000
    newcomer = sign_up(media_platform, plan="premium")
    assert _play_on(media_platform, newcomer, title, "tv-1")["start_bandwidth_bps"] == 500_000

    # the link got slower: the next start follows it down at once, climbs back slowly
    assert _beat_bandwidth(media_platform, member, fast["session_id"], 1_000_000).status_code == 200
    _stop(media_platform, member, str(fast["session_id"]))
    _stop(media_platform, member, str(other_device["session_id"]))
    slower = _play_on(media_platform, member, title, "tv-1")
    assert slower["start_bandwidth_bps"] == 700_000
    assert (
        _beat_bandwidth(media_platform, member, slower["session_id"], 2_000_000).status_code == 200
    )
    _stop(media_platform, member, str(slower["session_id"]))
    climbing = _play_on(media_platform, member, title, "tv-1")
    assert climbing["start_bandwidth_bps"] == 910_000  # (1.0 + 0.3 x 1.0) Mbit/s x 0.7

    for bad in ["fast", -5, 10**12, 1.5]:
        refused = _beat_bandwidth(media_platform, member, climbing["session_id"], bad)
        assert refused.status_code == 422, (bad, refused.text)
    bad_device = start_session(
        media_platform.gateway,
        member.headers,
        {"profile_id": member.profile_id, "title_id": title.title_id, "device": "../tv"},
    )
    assert bad_device.status_code == 422
    _stop(media_platform, member, str(climbing["session_id"]))


def test_a_session_answer_carries_the_start_renditions_playlists_and_init_segment(
    media_platform: LocalPlatform, hls_package: Path
) -> None:
    """A first play (the 500 kbit/s default) starts on the lowest rendition: the master as the
    edge serves this session (capped), that rendition's playlist and its init segment come with
    the answer, so the player's first request is for video. They are read once per asset, so a
    start that missed them on a slow host has them on the next one."""
    member = sign_up(media_platform, plan="basic")
    title = _title(media_platform, hls_package)
    deadline = time.monotonic() + 30
    while True:
        started = _play(media_platform, member, title)
        assert started.status_code == 201, started.text
        body = started.json()
        _stop(media_platform, member, body["session_id"])
        if len(body["start_files"]) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    files = body["start_files"]
    base = body["manifest_url"].rsplit("/", 1)[0]
    playlist = httpx.get(f"{base}/180p/index.m3u8", timeout=10).text
    init = "180p/" + playlist.split('URI="', 1)[1].split('"', 1)[0]
    assert set(files) == {"master.m3u8", "180p/index.m3u8", init}, files
    assert files["master.m3u8"]["text"] == httpx.get(body["manifest_url"], timeout=10).text
    assert files["180p/index.m3u8"]["text"] == playlist
    assert base64.b64decode(files[init]["base64"]) == (hls_package / init).read_bytes()
