"""My List (profiles) and continue watching (history) are kept in each instance's memory
between requests, and the gateway keeps what they answered for a home page. A change made
through one instance must still show on every instance and on the next home page at once:
whichever instance writes tells the others (platform/kept.py). Kept reads are trusted for 10
minutes here, and the gateway trusts a service that answered in the last 10 minutes, so only
that notice can make them see the change in time."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from cinemesh.contracts.notices import MY_LIST_CHANGED, POSITIONS_CHANGED
from tests.playback.media import publish
from tests.support.backends import Backend
from tests.support.metrics import kept_reads
from tests.support.platform import LocalPlatform
from tests.support.users import Member, admin, sign_up

pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
def platform(
    module_backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalPlatform]:
    env = {
        **module_backend.env,
        "CINEMESH_PROFILES_KEPT_READS_S": "600",
        "CINEMESH_HISTORY_KEPT_READS_S": "600",
        "CINEMESH_GATEWAY_KEPT_READS_S": "600",
        "CINEMESH_GATEWAY_ANSWERED_WITHIN_S": "600",
        "CINEMESH_GATEWAY_HOME_PAGE_FRESH_S": "0",  # no whole page reused: each one is built
    }
    running = LocalPlatform(
        tmp_path_factory.mktemp(f"kept-{module_backend.name}"),
        services=["registry", "identity", "profiles", "history", "catalog", "gateway"],
        env=env,
        scale={"profiles": 2, "history": 2},
    ).start()
    yield running
    running.stop()


def on_instance(
    platform: LocalPlatform, member: Member, service: str, index: int, method: str, path: str
) -> httpx.Response:
    return httpx.request(
        method,
        f"{platform.url_of(service, index)}/v1/profiles/{member.profile_id}{path}",
        headers={**platform.headers, **member.headers},
        timeout=10,
    )


def served_from_memory(
    platform: LocalPlatform, service: str, notice: str, read: Callable[[int], Any]
) -> None:
    """Each instance reads once (and keeps it), then answers the next read from memory."""
    for index in (0, 1):
        read(index)
        url = platform.url_of(service, index)
        before = kept_reads(url, notice, "memory")
        read(index)
        assert kept_reads(url, notice, "memory") == before + 1, f"{service}[{index}] kept nothing"


def soon(check: Callable[[], bool], within_s: float = 2.0) -> bool:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_list_changed_through_one_instance_shows_on_every_instance(
    platform: LocalPlatform,
) -> None:
    member = sign_up(platform)

    def titles(index: int) -> list[str]:
        answer = on_instance(platform, member, "profiles", index, "GET", "/my-list")
        assert answer.status_code == 200, answer.text
        return [item["title_id"] for item in answer.json()["items"]]

    served_from_memory(platform, "profiles", MY_LIST_CHANGED, titles)
    added = on_instance(platform, member, "profiles", 0, "PUT", "/my-list/tt-kept-1")
    assert added.status_code == 200, added.text
    assert titles(0) == ["tt-kept-1"]  # the writer forgets before it answers
    assert soon(lambda: titles(1) == ["tt-kept-1"]), titles(1)

    removed = on_instance(platform, member, "profiles", 1, "DELETE", "/my-list/tt-kept-1")
    assert removed.status_code == 200, removed.text
    assert titles(1) == []
    assert soon(lambda: titles(0) == []), titles(0)

    deleted = on_instance(platform, member, "profiles", 0, "DELETE", "")
    assert deleted.status_code == 204, deleted.text
    assert soon(
        lambda: on_instance(platform, member, "profiles", 1, "GET", "/my-list").status_code == 404
    )


def test_another_accounts_kept_list_is_still_not_found(platform: LocalPlatform) -> None:
    owner, other = sign_up(platform), sign_up(platform)
    assert on_instance(platform, owner, "profiles", 0, "GET", "/my-list").status_code == 200
    other.profile_id = owner.profile_id
    for _ in range(2):  # the first read keeps the owner's list, the second finds it kept
        answer = on_instance(platform, other, "profiles", 0, "GET", "/my-list")
        assert answer.status_code == 404, answer.text


def test_a_position_handled_by_one_instance_shows_on_every_instance(
    platform: LocalPlatform,
) -> None:
    member = sign_up(platform)
    title_id, started = f"t-{uuid.uuid4().hex[:10]}", datetime.now(UTC)

    def watch_to(position: float, seconds_later: int) -> None:
        at = started + timedelta(seconds=seconds_later)
        publish(platform.env, member.watched_to(title_id, position, at=at))

    def positions(index: int) -> list[float]:
        answer = on_instance(platform, member, "history", index, "GET", "/continue-watching")
        assert answer.status_code == 200, answer.text
        return [item["position_s"] for item in answer.json()["items"]]

    watch_to(10.0, 0)
    for index in (0, 1):
        assert soon(lambda i=index: positions(i) == [10.0], 10), positions(index)
    served_from_memory(platform, "history", POSITIONS_CHANGED, positions)
    watch_to(42.0, 10)  # handled by one instance or the other: both must show it
    for index in (0, 1):
        assert soon(lambda i=index: positions(i) == [42.0]), positions(index)


def test_a_change_made_behind_the_gateway_shows_on_the_next_home_page(
    platform: LocalPlatform,
) -> None:
    made = httpx.post(
        f"{platform.gateway}/api/v1/admin/titles",
        headers=admin(platform).headers,
        json={"title": "Kept Away", "kind": "movie", "genres": ["Drama"], "maturity_rating": "PG"},
        timeout=30,
    )
    assert made.status_code in (200, 201), made.text
    title_id = str(made.json()["id"])
    member = sign_up(platform)

    def row(row_id: str) -> list[dict[str, Any]]:
        page = httpx.get(
            f"{platform.gateway}/api/v1/home",
            params={"profile_id": member.profile_id},
            headers=member.headers,
            timeout=10,
        )
        assert page.status_code == 200, page.text
        return next((r["items"] for r in page.json()["rows"] if r["id"] == row_id), [])

    gateway = platform.url_of("gateway")
    assert soon(lambda: row("popular") != [], 20)  # the catalog's first rows are in
    before = kept_reads(gateway, MY_LIST_CHANGED, "memory")
    assert row("my-list") == []
    assert kept_reads(gateway, MY_LIST_CHANGED, "memory") > before, "the gateway kept nothing"

    added = on_instance(platform, member, "profiles", 1, "PUT", f"/my-list/{title_id}")
    assert added.status_code == 200, added.text
    assert soon(lambda: [t["id"] for t in row("my-list")] == [title_id])

    publish(platform.env, member.watched_to(title_id, 30.0))
    assert soon(lambda: [t.get("position_s") for t in row("continue-watching")] == [30.0])
