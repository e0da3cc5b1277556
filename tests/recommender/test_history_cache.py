"""The serving process' memory of profile histories: what it may keep, and when it forgets."""

from __future__ import annotations

import time

import pytest

from cinemesh.services.recommender.history_cache import HistoryCache
from cinemesh.services.recommender.service import ProfileHistory


def history(profile_id: str, *titles: str) -> ProfileHistory:
    return ProfileHistory(profile_id, positives=[(t, 1.0) for t in titles])


def listening(cache: HistoryCache, epoch: list[object]) -> HistoryCache:
    cache.epoch = lambda: epoch[0]
    return cache


def read(cache: HistoryCache, found: ProfileHistory) -> None:
    """What a request does on a miss: take a ticket, read, hand both back."""
    cache.keep(found, cache.ticket())


def test_keeps_nothing_before_notices_can_arrive() -> None:
    cache = HistoryCache()
    read(cache, history("p", "a"))
    assert cache.get("p") is None and len(cache) == 0


def test_a_kept_history_is_served_until_a_notice_names_its_profile() -> None:
    cache = listening(HistoryCache(), [("conn", 0)])
    read(cache, history("p", "a"))
    read(cache, history("q", "b"))
    assert cache.get("p") == history("p", "a")
    cache.forget(["p"])
    assert cache.get("p") is None
    assert cache.get("q") == history("q", "b")


def test_a_read_that_overlapped_a_notice_is_not_kept() -> None:
    cache = listening(HistoryCache(), [("conn", 0)])
    ticket = cache.ticket()  # the read starts; the event is committed and announced meanwhile
    cache.forget(["p"])
    cache.keep(history("p", "old"), ticket)
    assert cache.get("p") is None
    read(cache, history("p", "new"))
    assert cache.get("p") == history("p", "new")


@pytest.mark.parametrize("then", [None, ("conn", 1)], ids=["disconnected", "reconnected"])
def test_everything_is_forgotten_when_notices_may_have_been_missed(then: object) -> None:
    epoch: list[object] = [("conn", 0)]
    cache = listening(HistoryCache(), epoch)
    read(cache, history("p", "a"))
    epoch[0] = then
    assert cache.get("p") is None
    epoch[0] = ("conn", 2)
    assert cache.get("p") is None  # what was kept before is gone, not merely hidden
    read(cache, history("p", "b"))
    assert cache.get("p") == history("p", "b")


def test_a_read_during_which_the_bus_reconnected_is_not_kept() -> None:
    epoch: list[object] = [("conn", 0)]
    cache = listening(HistoryCache(), epoch)
    ticket = cache.ticket()
    epoch[0] = ("conn", 1)  # notices sent while it was away are lost
    cache.keep(history("p", "maybe-old"), ticket)
    assert cache.get("p") is None


def test_nothing_is_trusted_longer_than_its_age_and_the_oldest_make_room() -> None:
    cache = listening(HistoryCache(max_age_s=0.05, max_entries=2), [("conn", 0)])
    for name in ("p", "q", "r"):
        read(cache, history(name))
    assert cache.get("p") is None and len(cache) == 2
    time.sleep(0.06)
    assert cache.get("q") is None and cache.get("r") is None
