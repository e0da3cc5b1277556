"""The gateway's one-second reuse of whole home pages: kept only while fresh, never across a
member's own change, and off when its window is 0."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from cinemesh.services.gateway.core import Gateway
from cinemesh.services.gateway.recent_pages import RecentPages


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(RecentPages, "now", staticmethod(clock))
    return clock


def test_a_page_is_reused_only_within_its_window(clock: Clock) -> None:
    pages = RecentPages(fresh_s=1.0)
    pages.keep("acct", "p1", b"page", built_from=clock())
    clock.t += 0.9
    assert pages.get("acct", "p1") == b"page"
    assert pages.get("acct", "p2") is None and pages.get("other", "p1") is None
    clock.t += 0.2
    assert pages.get("acct", "p1") is None


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


def test_a_zero_window_keeps_nothing(clock: Clock) -> None:
    pages = RecentPages(fresh_s=0)
    pages.keep("acct", "p1", b"page", built_from=clock())
    assert pages.get("acct", "p1") is None


@pytest.mark.parametrize(
    ("method", "forgotten"), [("POST", True), ("DELETE", True), ("GET", False)]
)
def test_a_members_write_through_the_gateway_forgets_their_pages(
    clock: Clock, method: str, forgotten: bool
) -> None:
    gateway = Gateway.__new__(Gateway)
    gateway.home_pages = RecentPages(fresh_s=1.0)
    gateway.home_pages.keep("acct", "p1", b"page", built_from=clock())
    request = SimpleNamespace(
        method=method, state=SimpleNamespace(principal=SimpleNamespace(account_id="acct"))
    )
    gateway._note_change(request)  # type: ignore[arg-type]
    assert (gateway.home_pages.get("acct", "p1") is None) is forgotten
