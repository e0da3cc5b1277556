"""The gateway's reuse of recent whole home pages: served while fresh, rebuilt in the
background once stale, rebuilt first once old, built once however many ask, kept only briefly
when degraded, never kept across a member's own change, and off when its window is 0."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from cinemesh.platform.kept import KeptReads
from cinemesh.services.gateway import recent_pages
from cinemesh.services.gateway.core import Gateway
from cinemesh.services.gateway.kept_parts import KeptParts
from cinemesh.services.gateway.recent_pages import RecentPages


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Builder:
    """Builds pages "v1", "v2", ...; `whole` False makes the next ones degraded."""

    def __init__(self) -> None:
        self.builds = 0
        self.whole = True
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> tuple[bytes, bool]:
        self.builds += 1
        if self.gate is not None:
            await self.gate.wait()
        return f"v{self.builds}".encode(), self.whole


async def settle() -> None:
    """Let a background rebuild run to its end (its task, then its done callback)."""
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(RecentPages, "now", staticmethod(clock))
    return clock


def test_fresh_pages_are_reused_stale_ones_refreshed_behind_old_ones_rebuilt_first(
    clock: Clock,
) -> None:
    pages, build = RecentPages(fresh_s=1.0), Builder()

    async def scenario() -> list[tuple[bytes, str]]:
        seen = [await pages.page("acct", "p1", build)]
        clock.t += 0.5
        seen.append(await pages.page("acct", "p1", build))  # fresh
        clock.t += 0.7
        seen.append(await pages.page("acct", "p1", build))  # stale: old page, rebuild behind
        await settle()
        seen.append(await pages.page("acct", "p1", build))  # the rebuilt page
        clock.t += 5
        seen.append(await pages.page("acct", "p1", build))  # too old: rebuilt first
        return seen

    assert asyncio.run(scenario()) == [
        (b"v1", "built"),
        (b"v1", "reused"),
        (b"v1", "reused"),
        (b"v2", "reused"),
        (b"v3", "built"),
    ]


def test_many_requests_for_one_page_build_it_once(clock: Clock) -> None:
    pages, build = RecentPages(fresh_s=1.0), Builder()

    async def scenario() -> list[tuple[bytes, str]]:
        build.gate = asyncio.Event()
        waiting = [asyncio.ensure_future(pages.page("acct", "p1", build)) for _ in range(20)]
        await asyncio.sleep(0)
        build.gate.set()
        return list(await asyncio.gather(*waiting))

    assert asyncio.run(scenario()) == [(b"v1", "built")] * 20
    assert build.builds == 1


def test_a_degraded_page_is_reused_briefly_and_never_served_stale(clock: Clock) -> None:
    pages, build = RecentPages(fresh_s=1.0), Builder()

    async def scenario() -> list[tuple[bytes, str]]:
        seen = [await pages.page("acct", "p1", build)]
        build.whole = False
        clock.t += 1.2
        seen.append(await pages.page("acct", "p1", build))  # stale whole page, rebuild behind
        await settle()
        seen.append(await pages.page("acct", "p1", build))  # the degraded one, just made
        clock.t += 0.3
        seen.append(await pages.page("acct", "p1", build))  # past a quarter: rebuilt first
        build.whole = True
        clock.t += 0.3
        seen.append(await pages.page("acct", "p1", build))  # recovered
        return seen

    assert asyncio.run(scenario()) == [
        (b"v1", "built"),
        (b"v1", "reused"),
        (b"v2", "reused"),
        (b"v3", "built"),
        (b"v4", "built"),
    ]


def test_a_change_forgets_the_members_pages_and_refuses_pages_built_before_it(
    clock: Clock,
) -> None:
    pages = RecentPages(fresh_s=1.0)
    pages.keep("acct", "p1", b"old", built_from=clock())
    pages.keep("someone-else", "p9", b"theirs", built_from=clock())
    began = clock()
    clock.t += 0.1
    pages.forget("acct")
    assert pages.get("acct", "p1") is None
    assert pages.get("someone-else", "p9") == b"theirs"
    pages.keep("acct", "p1", b"built before the change", built_from=began)
    assert pages.get("acct", "p1") is None
    clock.t += 0.1
    pages.keep("acct", "p1", b"new", built_from=clock())
    assert pages.get("acct", "p1") == b"new"


def test_pages_too_old_to_serve_are_let_go(clock: Clock) -> None:
    pages = RecentPages(fresh_s=1.0)
    pages.keep("acct", "p1", b"x" * 10, built_from=clock())
    pages.keep("acct", "p1", b"y" * 20, built_from=clock())
    assert pages.kept_bytes == 20
    clock.t += 2.5  # past the 2 s a page may be served stale
    pages.keep("other", "p2", b"z" * 30, built_from=clock())
    assert pages.kept_bytes == 30
    pages.forget("other")
    assert pages.kept_bytes == 0


def test_kept_pages_stay_within_their_byte_budget(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recent_pages, "MAX_BYTES", 100)
    pages = RecentPages(fresh_s=1.0)
    for n in range(10):
        pages.keep(f"acct{n}", "p", bytes(30), built_from=clock())
        assert pages.kept_bytes <= 100
    assert pages.get("acct9", "p") == bytes(30)  # the most recent stay
    assert pages.get("acct0", "p") is None


def test_a_zero_window_builds_every_page(clock: Clock) -> None:
    pages, build = RecentPages(fresh_s=0), Builder()

    async def twice() -> list[tuple[bytes, str]]:
        return [await pages.page("acct", "p1", build) for _ in range(2)]

    assert asyncio.run(twice()) == [(b"v1", "built"), (b"v2", "built")]


@pytest.mark.parametrize(
    ("method", "forgotten"), [("POST", True), ("DELETE", True), ("GET", False)]
)
def test_a_members_write_through_the_gateway_forgets_their_pages(
    clock: Clock, method: str, forgotten: bool
) -> None:
    gateway = Gateway.__new__(Gateway)
    gateway.home_pages = RecentPages(fresh_s=1.0)
    gateway.home_pages.keep("acct", "p1", b"page", built_from=clock())
    history: KeptReads[bytes] = KeptReads("history")
    history.epoch = lambda: "listening"
    gateway.parts = KeptParts({"history": history}, answering=lambda _service: True)
    gateway.parts.keep("history", "acct", "p1", b"positions", history.ticket())
    member = SimpleNamespace(account_id="acct")
    request = SimpleNamespace(method=method, state=SimpleNamespace(principal=member))
    gateway._note_change(request)  # type: ignore[arg-type]
    assert (gateway.home_pages.get("acct", "p1") is None) is forgotten
    assert (gateway.parts.get("history", "p1") is None) is forgotten
