"""Play beacons through the gateway on both backends: a member's beacons for their own session
are stored once and aggregated per title, edge and plan (ops API, Prometheus, events); another
account's session is 403; garbage and absurd values are 422 and counted, never stored; beacons
are rate limited per account; and with telemetry dead, playback and beacons carry on."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.catalog.api import wait_for
from tests.playback.media import add_title, start_session
from tests.support.backends import Backend
from tests.support.metrics import sample_value
from tests.support.outbox import published_events
from tests.support.platform import LocalPlatform
from tests.support.tokens import TokenMint
from tests.telemetry.conftest import BURST_PER_ACCOUNT, EDGE, RATE_PER_ACCOUNT


@dataclass
class Viewer:
    """A member with a profile, watching a title of their own in one session."""

    platform: LocalPlatform
    token: str
    profile_id: str
    title_id: str = ""
    session_id: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def send(self, *beacons: dict[str, Any]) -> httpx.Response:
        """Beacons the way the player's timer sends them: fetch, with Authorization."""
        return httpx.post(
            f"{self.platform.gateway}/api/v1/telemetry/play",
            json={"beacons": list(beacons)},
            headers=self.headers,
            timeout=10,
        )

    def send_on_page_hide(self, *beacons: dict[str, Any]) -> httpx.Response:
        """Beacons the way navigator.sendBeacon sends them: no headers of its own, a typeless
        body carrying the access token."""
        body = json.dumps({"access_token": self.token, "beacons": list(beacons)}).encode()
        return httpx.post(
            f"{self.platform.gateway}/api/v1/telemetry/play", content=body, timeout=10
        )


def viewer(platform: LocalPlatform, mint: TokenMint, *, plan: str = "premium") -> Viewer:
    token = mint.token(plan=plan)
    made = httpx.post(
        f"{platform.gateway}/api/v1/profiles",
        json={"name": "Main"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert made.status_code == 201, made.text
    return Viewer(platform, token, str(made.json()["id"]))


def watching(platform: LocalPlatform, mint: TokenMint, *, plan: str = "premium") -> Viewer:
    """A viewer whose session telemetry has heard of (from playback's event)."""
    who = viewer(platform, mint, plan=plan)
    package = platform.data_dir / "package"
    package.mkdir(exist_ok=True)
    (package / "master.m3u8").write_text("#EXTM3U\n")
    title = add_title(env=platform.env, data_dir=platform.data_dir, package=package)
    started = start_session(
        platform.gateway, who.headers, {"profile_id": who.profile_id, "title_id": title.title_id}
    )
    assert started.status_code == 201, started.text
    who.title_id, who.session_id = title.title_id, started.json()["session_id"]
    return who


def beacon(session_id: str, seq: int, **fields: Any) -> dict[str, Any]:
    return {"session_id": session_id, "seq": seq, "edge": EDGE, **fields}


def delivered(send: Callable[[], httpx.Response], timeout_s: float = 15) -> dict[str, Any]:
    """Send until telemetry took the batch: it has heard of the session (404 until playback's
    event arrives) and answered the gateway in time (not dropped; sending again is safe)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = send()
        if answer.status_code == 404:
            assert answer.json()["error"]["code"] == "SESSION_UNKNOWN"
        else:
            assert answer.status_code == 202, answer.text
            if answer.json()["dropped"] == 0:
                return dict(answer.json())
        assert time.monotonic() < deadline, f"telemetry never took it: {answer.text}"
        time.sleep(0.3)


def ops_row(platform: LocalPlatform, by: str, key: str) -> dict[str, Any] | None:
    answer = httpx.get(f"{platform.gateway}/api/v1/ops/telemetry", timeout=10)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["available"] is True, body
    return next((row for row in body[f"by_{by}"] if row[by] == key), None)


def gateway_batches(platform: LocalPlatform, outcome: str) -> float:
    return sample_value(
        platform.url_of("gateway"), "cinemesh_gateway_beacon_batches_total", outcome=outcome
    )


def telemetry_beacons(platform: LocalPlatform, outcome: str) -> float:
    return sample_value(
        platform.url_of("telemetry"), "cinemesh_telemetry_beacons_total", outcome=outcome
    )


def test_a_members_beacons_are_stored_once_and_aggregated_per_title_edge_and_plan(
    platform: LocalPlatform, mint: TokenMint, module_backend: Backend
) -> None:
    who = watching(platform, mint, plan="basic")
    s = who.session_id
    opening = beacon(
        s,
        0,
        ttff_ms=800,
        played_ms=8000,
        bitrate_kbps=2000.0,
        height=720,
        switches=[{"bitrate_kbps": 2000.0, "height": 720}],
        decoded_frames=192,
        dropped_frames=2,
    )
    delivered(lambda: who.send(opening))
    stalled = beacon(
        s,
        1,
        played_ms=9000,
        stalls=1,
        rebuffer_ms=1000,
        bitrate_kbps=3000.0,
        height=1080,
        decoded_frames=216,
        errors=[{"type": "networkError", "details": "fragLoadError", "fatal": False}],
    )
    last = beacon(s, 2, played_ms=3000, bitrate_kbps=3000.0, decoded_frames=72)
    delivered(lambda: who.send(stalled))
    delivered(lambda: who.send_on_page_hide(last))
    again = delivered(lambda: who.send_on_page_hide(last, stalled))
    assert again == {"accepted": 0, "duplicates": 2, "dropped": 0}  # each stretch counts once

    wait_for(lambda: (ops_row(platform, "title", who.title_id) or {}).get("played_s") == 20.0)
    title = ops_row(platform, "title", who.title_id)
    assert title is not None
    assert title["sessions"] == 1
    assert (title["play_delay_p50_ms"], title["play_delay_p90_ms"]) == (800, 800)
    assert title["rebuffer_ratio"] == pytest.approx(1000 / 21000, abs=1e-4)
    assert title["avg_bitrate_kbps"] == pytest.approx((2000 * 8 + 3000 * 9 + 3000 * 3) / 20)
    assert (title["stalls"], title["errors"], title["error_rate"]) == (1, 1, 0.0)
    assert title["dropped_frame_ratio"] == pytest.approx(2 / 480, abs=1e-4)
    plan = ops_row(platform, "plan", "basic")
    assert plan is not None and plan["sessions"] == 1 and plan["play_delay_p50_ms"] == 800
    edge = ops_row(platform, "edge", EDGE)
    assert edge is not None and edge["sessions"] >= 1

    telemetry = platform.url_of("telemetry")
    labels = {"by": "title", "key": who.title_id}
    assert (
        sample_value(telemetry, "cinemesh_qoe_play_delay_seconds", quantile="0.9", **labels) == 0.8
    )
    assert sample_value(telemetry, "cinemesh_qoe_rebuffer_ratio", **labels) == pytest.approx(
        1000 / 21000, abs=1e-4
    )
    assert sample_value(telemetry, "cinemesh_qoe_sessions", by="plan", key="basic") == 1

    kinds = published_events(
        module_backend, platform.data_dir, "telemetry", want="telemetry.play.reported", mentioning=s
    )
    assert kinds.count("telemetry.play.reported") == 3
    beat = httpx.post(
        f"{platform.gateway}/api/v1/playback/sessions/{s}/heartbeat",
        json={"position_s": 20.0},
        headers=who.headers,
        timeout=10,
    )
    assert beat.status_code == 200, beat.text


def test_beacons_for_another_accounts_session_are_403_and_never_stored(
    platform: LocalPlatform, mint: TokenMint
) -> None:
    owner, other = watching(platform, mint), viewer(platform, mint)
    delivered(lambda: owner.send(beacon(owner.session_id, 0, ttff_ms=500)))
    wait_for(lambda: ops_row(platform, "title", owner.title_id) is not None)
    refused_before = gateway_batches(platform, "not_yours")
    intruding = beacon(owner.session_id, 1, ttff_ms=1, played_ms=600_000)
    for answer in (other.send(intruding), other.send_on_page_hide(intruding)):
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "SESSION_NOT_YOURS"
    assert gateway_batches(platform, "not_yours") == refused_before + 2
    assert telemetry_beacons(platform, "not_yours") >= 2
    time.sleep(1.0)  # a few refreshes of the QoE window: the intruder's ten minutes never count
    assert (ops_row(platform, "title", owner.title_id) or {})["played_s"] == 0
    mine = delivered(lambda: owner.send(beacon(owner.session_id, 1, played_ms=5000)))
    assert mine["accepted"] + mine["duplicates"] == 1
    anonymous = httpx.post(
        f"{platform.gateway}/api/v1/telemetry/play", json={"beacons": [intruding]}, timeout=10
    )
    assert anonymous.status_code == 401
    forged = httpx.post(
        f"{platform.gateway}/api/v1/telemetry/play",
        content=json.dumps({"access_token": "not.a.token", "beacons": [intruding]}),
        timeout=10,
    )
    assert forged.status_code == 401


ABSURD: dict[str, Any] = {
    "ttff_ms": 10_000_000,
    "bitrate_kbps": 5e6,
    "stalls": -1,
    "played_ms": "9000",
    "height": 100_000,
    "hacker": True,
    "errors": [{"type": "networkError", "details": "<script>", "fatal": True}],
    "edge": "javascript:alert(1)",
    "switches": [{"bitrate_kbps": 0, "height": 720}],
}


def test_garbage_and_absurd_beacons_are_422_counted_and_never_stored(
    platform: LocalPlatform, mint: TokenMint
) -> None:
    who = watching(platform, mint)
    delivered(lambda: who.send(beacon(who.session_id, 0, ttff_ms=700)))
    url = f"{platform.gateway}/api/v1/telemetry/play"
    invalid_before = gateway_batches(platform, "invalid")
    stored_before = telemetry_beacons(platform, "stored")
    bodies: list[Any] = [
        [],
        {"beacons": []},
        {"beacons": [beacon(who.session_id, n) for n in range(51)]},
        {"beacons": [{"seq": 1}]},
        *({"beacons": [beacon(who.session_id, 1, **{k: v})]} for k, v in ABSURD.items()),
    ]
    for body in bodies:
        answer = httpx.post(url, json=body, headers=who.headers, timeout=10)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["error"]["code"] == "INVALID_REQUEST"
    garbage = httpx.post(url, content=b"\x00{not json", headers=who.headers, timeout=10)
    assert garbage.status_code == 422
    huge = httpx.post(url, content=b"x" * (70 * 1024), headers=who.headers, timeout=10)
    assert huge.status_code == 413
    assert gateway_batches(platform, "invalid") == invalid_before + len(bodies) + 1
    assert gateway_batches(platform, "too_large") >= 1
    assert telemetry_beacons(platform, "stored") == stored_before
    assert delivered(lambda: who.send(beacon(who.session_id, 1, played_ms=9000)))["accepted"] == 1


def test_beacons_are_rate_limited_per_account(platform: LocalPlatform, mint: TokenMint) -> None:
    who = viewer(platform, mint)
    limited_before = gateway_batches(platform, "rate_limited")
    unknown = beacon(uuid.uuid4().hex, 0, played_ms=1000)
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: who.send(unknown), range(60)))
    refilled = RATE_PER_ACCOUNT * (time.monotonic() - started)
    statuses = [a.status_code for a in answers]
    # within the limit: on to telemetry, which never heard of the session (or, slow under
    # this burst, did not answer in time: dropped, 202); past the account's burst: 429
    assert set(statuses) <= {202, 404, 429} and 429 in statuses, statuses
    assert 1 <= len(statuses) - statuses.count(429) <= BURST_PER_ACCOUNT + refilled + 1
    limited = next(a for a in answers if a.status_code == 429)
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert int(limited.headers["retry-after"]) >= 1
    assert gateway_batches(platform, "rate_limited") == limited_before + statuses.count(429)
    other = viewer(platform, mint)  # the limit is the account's, not everyone's
    assert other.send(unknown).status_code == 404


def test_with_telemetry_dead_playback_and_beacons_carry_on(
    platform: LocalPlatform, mint: TokenMint
) -> None:
    """Last in the module: telemetry stays down."""
    platform.control("POST", "/kill", json={"service": "telemetry", "hold_s": 600})
    who = watching(platform, mint)
    s = who.session_id
    beat = httpx.post(
        f"{platform.gateway}/api/v1/playback/sessions/{s}/heartbeat",
        json={"position_s": 3.0},
        headers=who.headers,
        timeout=10,
    )
    assert beat.status_code == 200, beat.text
    dropped_before = gateway_batches(platform, "dropped")
    for seq in range(5):
        started = time.monotonic()
        answer = who.send(beacon(s, seq, played_ms=1000))
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"accepted": 0, "duplicates": 0, "dropped": 1}
        assert time.monotonic() - started < 1.0
    hidden = who.send_on_page_hide(beacon(s, 5, played_ms=1000))
    assert hidden.status_code == 202 and hidden.json()["dropped"] == 1
    assert gateway_batches(platform, "dropped") == dropped_before + 6
    ops = httpx.get(f"{platform.gateway}/api/v1/ops/telemetry", timeout=10)
    assert ops.status_code == 200 and ops.json()["available"] is False
    stopped = httpx.delete(
        f"{platform.gateway}/api/v1/playback/sessions/{s}", headers=who.headers, timeout=10
    )
    assert stopped.status_code == 204
