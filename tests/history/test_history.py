"""Viewing history from playback's events: continue watching within seconds, finished titles
leave it for the watched list, one `history.watched` per finish, redelivery and late events
change nothing, and only the profile's own account can read it."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from cinemesh.contracts.playback import PlaybackProgress, PlaybackStopped
from cinemesh.runner.local import LocalPlatform
from tests.playback.media import add_title, collect, publish, start_session
from tests.support.users import Member, sign_up


def read(platform: LocalPlatform, member: Member, what: str) -> httpx.Response:
    return httpx.get(
        f"{platform.gateway}/api/v1/profiles/{member.profile_id}/{what}",
        headers=member.headers,
        timeout=10,
    )


def wait_for(check: Any, *, within_s: float) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_continue_watching_reflects_a_heartbeat_within_two_seconds(
    media_platform: LocalPlatform, hls_package: Path
) -> None:
    member = sign_up(media_platform, plan="premium")
    first = add_title(env=media_platform.env, data_dir=media_platform.data_dir, package=hls_package)
    second = add_title(
        env=media_platform.env, data_dir=media_platform.data_dir, package=hls_package
    )
    sessions = {}
    for title in (first, second):
        started = start_session(
            media_platform.gateway,
            member.headers,
            {"profile_id": member.profile_id, "title_id": title.title_id},
        )
        assert started.status_code == 201, started.text
        sessions[title.title_id] = started.json()["session_id"]
    for title, position in ((first, 2.0), (second, 5.0)):
        sent = time.monotonic()
        beat = httpx.post(
            f"{media_platform.gateway}/api/v1/playback/sessions/{sessions[title.title_id]}/heartbeat",
            json={"position_s": position},
            headers=member.headers,
            timeout=10,
        )
        assert beat.status_code == 200, beat.text

        def shows(title_id: str = title.title_id, at: float = position) -> bool:
            items = read(media_platform, member, "continue-watching").json()["items"]
            return any(i["title_id"] == title_id and i["position_s"] == at for i in items)

        assert wait_for(shows, within_s=2.0), "continue watching did not follow within 2 s"
        assert time.monotonic() - sent < 2.5
    items = read(media_platform, member, "continue-watching").json()["items"]
    assert [i["title_id"] for i in items] == [second.title_id, first.title_id]  # most recent first
    assert items[0]["duration_s"] == 8.0 and items[0]["finished"] is False
    progress = read(media_platform, member, f"progress/{first.title_id}")
    assert progress.status_code == 200 and progress.json()["position_s"] == 2.0
    for session_id in sessions.values():
        httpx.delete(
            f"{media_platform.gateway}/api/v1/playback/sessions/{session_id}",
            headers=member.headers,
            timeout=10,
        )


def test_finished_titles_move_to_watched_once_under_redelivery_and_late_events(
    media_platform: LocalPlatform,
) -> None:
    member = sign_up(media_platform, plan="premium")
    account = member.account_id
    title_id = f"t-{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC)

    def progress(
        position: float, at: datetime, kind: type[PlaybackProgress] = PlaybackProgress
    ) -> PlaybackProgress:
        return kind(
            session_id="s" + uuid.uuid4().hex[:8],
            account_id=account,
            profile_id=member.profile_id,
            title_id=title_id,
            position_s=position,
            duration_s=100.0,
            at=at.isoformat(),
        )

    publish(media_platform.env, progress(40.0, now))

    def listed() -> bool:
        items = read(media_platform, member, "continue-watching").json()["items"]
        return any(i["title_id"] == title_id for i in items)

    assert wait_for(listed, within_s=5)
    finishing = progress(96.0, now + timedelta(seconds=10), PlaybackStopped)
    late = progress(50.0, now + timedelta(seconds=5))
    again = progress(97.0, now + timedelta(seconds=11))
    # the same fact delivered twice (new ids, as after a producer retry), a late one, and more
    publish(media_platform.env, finishing, finishing.model_copy(), late, again)

    def watched() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = read(media_platform, member, "watched").json()["items"]
        return [i for i in items if i["title_id"] == title_id and i["position_s"] == 97.0]

    assert wait_for(watched, within_s=5)
    assert not listed()  # finished titles leave continue watching
    progress_now = read(media_platform, member, f"progress/{title_id}").json()
    assert progress_now["finished"] is True and progress_now["position_s"] == 97.0
    events = [
        e
        for e in collect(media_platform.env, "history.watched")
        if e.data["profile_id"] == member.profile_id and e.data["title_id"] == title_id
    ]
    assert len(events) == 1, events


def test_history_belongs_to_the_profiles_account(media_platform: LocalPlatform) -> None:
    owner = sign_up(media_platform, plan="basic")
    stranger = sign_up(media_platform, plan="basic")
    title_id = f"t-{uuid.uuid4().hex[:10]}"
    publish(media_platform.env, owner.watched_to(title_id, 12.0))
    assert wait_for(
        lambda: read(media_platform, owner, f"progress/{title_id}").status_code == 200, within_s=5
    )
    for what in ("continue-watching", "watched", f"progress/{title_id}"):
        answer = httpx.get(
            f"{media_platform.gateway}/api/v1/profiles/{owner.profile_id}/{what}",
            headers=stranger.headers,
            timeout=10,
        )
        assert answer.status_code == 404, (what, answer.text)
    direct = httpx.get(  # history checks the account itself, not only the gateway
        f"{media_platform.url_of('history')}/v1/profiles/{owner.profile_id}/progress/{title_id}",
        headers={**media_platform.headers, **stranger.headers},
        timeout=10,
    )
    assert direct.status_code == 404, direct.text
    mine = httpx.get(
        f"{media_platform.url_of('history')}/v1/profiles/{owner.profile_id}/progress/{title_id}",
        headers={**media_platform.headers, **owner.headers},
        timeout=10,
    )
    assert mine.status_code == 200, mine.text
    assert (
        httpx.get(
            f"{media_platform.gateway}/api/v1/profiles/{owner.profile_id}/continue-watching",
            timeout=10,
        ).status_code
        == 401
    )
    bad = httpx.get(
        f"{media_platform.gateway}/api/v1/profiles/{owner.profile_id}/progress/{title_id}",
        params={"episode_id": "x" * 200},
        headers=owner.headers,
        timeout=10,
    )
    assert bad.status_code == 422
