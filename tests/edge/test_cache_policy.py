"""The edge cache's policy on its own (services/edge/cache.py's Holdings, the class the cache
keeps its disk to and bench/origin_bench.py simulates): it never holds more than its byte limit
with the fills under way counted, a one-off miss does not push out what is asked for often, and
an object asked for often enough gets in."""

from __future__ import annotations

import random

from cinemesh.services.edge.cache import Holdings

LIMIT = 1_000_000


def test_the_holdings_never_pass_their_byte_limit_under_a_churn_larger_than_the_cache() -> None:
    rng = random.Random(3)
    holdings = Holdings(LIMIT)
    objects = [
        (f"assets/a{n}/720p/seg_{n % 50:03d}.m4s", rng.randint(20_000, 200_000))
        for n in range(2000)
    ]
    assert sum(size for _key, size in objects) > 20 * LIMIT
    popularity = [1 / (rank + 1) ** 0.8 for rank in range(len(objects))]
    kept = 0
    for key, size in rng.choices(objects, weights=popularity, k=20_000):
        if holdings.asked(key):
            continue
        reserved = rng.choice((0, 0, 150_000))  # a fill under way now and then
        if holdings.admit(key, size, reserved=reserved) is None:
            continue
        holdings.make_room(size, reserved=reserved)
        assert holdings.total + reserved + size <= LIMIT
        holdings.add(key, size, reserved=reserved)
        kept += 1
        assert holdings.total + reserved <= LIMIT or len(holdings.sizes) == 1
        assert holdings.total == sum(holdings.sizes.values())
    assert kept > 100, "the churn kept objects in and out"


def test_a_one_off_miss_does_not_push_out_what_is_asked_for_often_and_a_repeated_one_gets_in() -> (
    None
):
    holdings = Holdings(3 * 100)
    for key in ("a", "b", "c"):
        for _ in range(3):
            if not holdings.asked(key):
                assert holdings.admit(key, 100) is not None
                holdings.add(key, 100)
    assert list(holdings.sizes) == ["a", "b", "c"]
    assert not holdings.asked("once")
    assert holdings.admit("once", 100) is None, "asked once: served, not kept"
    assert set(holdings.sizes) == {"a", "b", "c"}
    for _ in range(3):
        assert not holdings.asked("rising")
    assert holdings.asked("a")  # "a" is the most recently used now, "b" the least
    assert holdings.admit("rising", 100) is None, "asked as often as those it would push out"
    assert not holdings.asked("rising")
    assert holdings.admit("rising", 100) == ["b"], "asked more often: the least recently used goes"
    holdings.add("rising", 100)
    assert list(holdings.sizes) == ["c", "a", "rising"] and holdings.total == 300
