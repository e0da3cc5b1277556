"""The edge cache's policy on its own (services/edge/cache.py's Holdings, the class the cache
keeps its disk to and bench/origin_bench.py simulates): it never holds more than its byte limit
with the fills under way counted, a one-off miss does not push out what is asked for often, and
an object asked for often enough gets in; a fill ahead of demand plans the likeliest objects
within its share of the limit, and no miss pushes them out until the next fill."""

from __future__ import annotations

import random

from cinemesh.services.edge.cache import FILL_SHARE, FillCandidate, Holdings

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
    assert list(holdings.recent) == ["a", "b", "c"]
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
    assert list(holdings.recent) == ["c", "a", "rising"] and holdings.total == 300


def candidates(titles: dict[str, float], *, segments: int = 4) -> list[FillCandidate]:
    return [
        FillCandidate(f"{title}/{rendition}/{n}", share, rendition, n, 100)
        for title, share in titles.items()
        for rendition in ("360p", "1080p")
        for n in range(segments)
    ]


def test_a_first_fill_plans_the_popular_titles_first_segments_within_its_share_of_the_limit() -> (
    None
):
    holdings = Holdings(1000)
    planned = [str(key) for key in holdings.plan_fill(candidates({"hit": 0.8, "niche": 0.2}))]
    assert len(planned) * 100 <= FILL_SHARE * 1000 and len(planned) == 9
    assert all(key.startswith("hit/") for key in planned[:8]), "the popular title first"
    assert planned[8].startswith("niche/") and planned[8].endswith("/0")
    assert planned[:2] == ["hit/360p/0", "hit/1080p/0"], "first segments first"


def test_a_later_fill_ranks_by_what_the_edge_was_asked_for_and_misses_do_not_push_it_out() -> None:
    holdings = Holdings(1000)
    for _ in range(5):  # viewers of this edge watch 360p and never 1080p
        for n in range(4):
            holdings.asked(f"seen/360p/{n}")
    planned = [str(key) for key in holdings.plan_fill(candidates({"seen": 0.5, "unseen": 0.5}))]
    assert not any("1080p" in key for key in planned), "1080p was never asked for here"
    assert "unseen/360p/0" in planned, "a title nobody opened yet is ranked by the others"
    for key in planned:
        holdings.add(key, 100)
    for _ in range(50):
        assert not holdings.asked("one-off")
    assert holdings.admit("one-off", 300) is None, "the fill's objects are not pushed out"
    assert set(planned) <= set(holdings.sizes)
    holdings.plan_fill(candidates({"other": 1.0}, segments=1))
    assert holdings.admit("one-off", 300) is not None, "the earlier fill's objects are misses' now"
