"""One of three playback instances dies under steady load: nobody notices. Session starts,
heartbeats and stops keep answering while the registry evicts the dead instance and the
supervisor brings it back."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cinemesh.platform.discovery import LEASE_S
from tests.playback.media import add_title, make_package, start_session
from tests.support.backends import EmbeddedNats
from tests.support.platform import LocalPlatform, unthrottled_platform
from tests.support.users import Member, sign_up

SERVICES = ["registry", "identity", "profiles", "playback", "edge", "history", "gateway"]
VIEWERS = 3


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, embedded_nats: EmbeddedNats
) -> Iterator[LocalPlatform]:
    with unthrottled_platform(
        tmp_path_factory.mktemp("playback-failover"),
        embedded_nats.url,
        services=SERVICES,
        scale={"playback": 3},
    ) as running:
        yield running


def registered(platform: LocalPlatform, service: str) -> set[str]:
    return {i["instance_id"] for i in platform.registry(f"/v1/services/{service}")}


def watch_in_a_loop(
    platform: LocalPlatform, member: Member, title_id: str, stop: threading.Event, seen: Counter
) -> None:
    """A viewer pressing play, sending two heartbeats and stopping, again and again."""
    api = f"{platform.gateway}/api/v1/playback/sessions"
    with httpx.Client(headers=member.headers, timeout=10) as client:
        while not stop.is_set():
            started = client.post(api, json={"profile_id": member.profile_id, "title_id": title_id})
            seen[f"start {started.status_code}"] += 1
            if started.status_code != 201:
                continue
            session_id = started.json()["session_id"]
            for position in (1.0, 2.0):
                beat = client.post(f"{api}/{session_id}/heartbeat", json={"position_s": position})
                seen[f"heartbeat {beat.status_code}"] += 1
            stopped = client.delete(f"{api}/{session_id}")
            seen[f"stop {stopped.status_code}"] += 1


def test_one_of_three_playback_instances_killed_under_load_fails_no_request(
    platform: LocalPlatform, tmp_path: Path
) -> None:
    platform.wait_healthy(service="playback", count=3, timeout_s=60)
    title = add_title(
        env=platform.env, data_dir=platform.data_dir, package=make_package(tmp_path / "pkg")
    )
    members = [sign_up(platform) for _ in range(VIEWERS)]
    first = start_session(
        platform.gateway,
        members[0].headers,
        {"profile_id": members[0].profile_id, "title_id": title.title_id},
    )
    assert first.status_code == 201, first.text
    httpx.delete(
        f"{platform.gateway}/api/v1/playback/sessions/{first.json()['session_id']}",
        headers=members[0].headers,
        timeout=10,
    )
    assert len(registered(platform, "playback")) == 3

    stop, seen = threading.Event(), Counter()
    viewers = [
        threading.Thread(target=watch_in_a_loop, args=(platform, m, title.title_id, stop, seen))
        for m in members
    ]
    for viewer in viewers:
        viewer.start()
    try:
        time.sleep(3)
        before = registered(platform, "playback")
        killed_pid = platform.kill("playback", 1)
        victim = next(i for i in before if i.endswith(f"-{killed_pid}"))
        killed_at = time.monotonic()
        while victim in registered(platform, "playback") and time.monotonic() - killed_at < 15:
            time.sleep(0.2)
        evicted_after = time.monotonic() - killed_at
        time.sleep(3)
    finally:
        stop.set()
        for viewer in viewers:
            viewer.join(timeout=30)

    failed = {
        outcome: n for outcome, n in seen.items() if not outcome.endswith(("201", "200", "204"))
    }
    assert not failed, f"user-visible failures {failed} of {dict(seen)}"
    assert seen["start 201"] >= 20, dict(seen)
    assert evicted_after <= LEASE_S + 3, (
        f"the registry evicted the dead instance after {evicted_after:.1f}s"
    )
