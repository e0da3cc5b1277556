"""A service's memory of hot reads: what it may keep, and when it forgets."""

from __future__ import annotations

import asyncio
import time

import pytest

from cinemesh.platform.kept import KeptReads


def listening(kept: KeptReads[str], epoch: list[object]) -> KeptReads[str]:
    kept.epoch = lambda: epoch[0]
    return kept


def read(kept: KeptReads[str], key: str, found: str) -> None:
    """What a request does on a miss: take a ticket, read, hand both back."""
    kept.keep(key, found, kept.ticket())


def test_keeps_nothing_before_notices_can_arrive() -> None:
    kept: KeptReads[str] = KeptReads("test")
    read(kept, "p", "a")
    assert kept.get("p") is None and len(kept) == 0


def test_a_kept_read_is_served_until_a_notice_names_its_key() -> None:
    kept = listening(KeptReads("test"), [("conn", 0)])
    read(kept, "p", "a")
    read(kept, "q", "b")
    assert kept.get("p") == "a"
    kept.forget(["p"])
    assert kept.get("p") is None
    assert kept.get("q") == "b"


def test_a_read_that_overlapped_a_notice_is_not_kept() -> None:
    kept = listening(KeptReads("test"), [("conn", 0)])
    ticket = kept.ticket()  # the read starts; a change is committed and announced meanwhile
    kept.forget(["p"])
    kept.keep("p", "old", ticket)
    assert kept.get("p") is None
    read(kept, "p", "new")
    assert kept.get("p") == "new"


def test_read_through_reads_once_and_not_across_a_notice() -> None:
    kept = listening(KeptReads("test"), [("conn", 0)])
    reads: list[str] = []

    async def reading(value: str, *, notice_meanwhile: bool = False) -> str:
        reads.append(value)
        if notice_meanwhile:
            kept.forget(["p"])
        return value

    async def scenario() -> None:
        assert await kept.read_through("p", lambda: reading("a", notice_meanwhile=True)) == "a"
        assert await kept.read_through("p", lambda: reading("b")) == "b"
        assert await kept.read_through("p", lambda: reading("c")) == "b"

    asyncio.run(scenario())
    assert reads == ["a", "b"]


@pytest.mark.parametrize("then", [None, ("conn", 1)], ids=["disconnected", "reconnected"])
def test_everything_is_forgotten_when_notices_may_have_been_missed(then: object) -> None:
    epoch: list[object] = [("conn", 0)]
    kept = listening(KeptReads("test"), epoch)
    read(kept, "p", "a")
    epoch[0] = then
    assert kept.get("p") is None
    epoch[0] = ("conn", 2)
    assert kept.get("p") is None  # what was kept before is gone, not merely hidden
    read(kept, "p", "b")
    assert kept.get("p") == "b"


def test_a_read_during_which_the_bus_reconnected_is_not_kept() -> None:
    epoch: list[object] = [("conn", 0)]
    kept = listening(KeptReads("test"), epoch)
    ticket = kept.ticket()
    epoch[0] = ("conn", 1)  # notices sent while it was away are lost
    kept.keep("p", "maybe-old", ticket)
    assert kept.get("p") is None


def test_nothing_is_trusted_longer_than_its_age_and_the_oldest_make_room() -> None:
    kept = listening(KeptReads("test", max_age_s=0.05, max_entries=2), [("conn", 0)])
    for key in ("p", "q", "r"):
        read(kept, key, key)
    assert kept.get("p") is None and len(kept) == 2
    time.sleep(0.06)
    assert kept.get("q") is None and kept.get("r") is None


def test_an_age_of_zero_keeps_nothing() -> None:
    kept = listening(KeptReads("test", max_age_s=0), [("conn", 0)])
    read(kept, "p", "a")
    assert kept.get("p") is None and len(kept) == 0
