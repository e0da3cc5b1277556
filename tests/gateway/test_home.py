"""The home page composition on its own: each dependency's failure drops or replaces only its
rows and is named in `degraded`."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from cinemesh.platform.cache import MemoryCache
from cinemesh.platform.http import Response
from cinemesh.platform.kept import KeptReads
from cinemesh.platform.treatments import TREATMENTS_HEADER, carried_treatments, carry_treatments
from cinemesh.services.gateway.core import unavailable
from cinemesh.services.gateway.experiments import Allocator
from cinemesh.services.gateway.home import HomePage, HomeSources
from cinemesh.services.gateway.kept_parts import NOTICES, KeptParts
from cinemesh.services.gateway.settings import GatewaySettings

TITLES = {
    f"t{n}": {
        "id": f"t{n}",
        "title": f"Title {n}",
        "maturity_rating": "R" if n == 9 else "PG",
        "genres": ["Horror" if n % 2 else "Comedy"],
        "popularity": 100 - n,
    }
    for n in range(10)
}


MEMBER: Any = SimpleNamespace(account_id="a1")


class FakeGateway:
    """Answers like the services would; `down` names services that fail."""

    def __init__(self) -> None:
        self.settings = GatewaySettings()
        self.cache = MemoryCache()
        self.down: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self.batches: list[list[str]] = []
        self.answering = True  # whether the services answered this gateway lately
        self.treatments = ""  # what experiments allocates every profile
        self.headers: list[dict[str, str]] = []  # treatments carried to the recommender
        self.exposures: list[Any] = []
        # not listening to notices, so nothing is kept unless a test says it listens
        self.parts = KeptParts(
            {service: KeptReads(service) for service in NOTICES},
            answering=lambda _service: self.answering,
        )
        self.allocator = Allocator(self)  # type: ignore[arg-type]

    async def call(self, service: str, method: str, path: str, **kwargs: Any) -> Response:
        self.calls.append((service, path))
        await asyncio.sleep(0)  # a real call lets other pages run meanwhile
        if service in self.down:
            raise unavailable(service)
        return Response(200, {}, orjson.dumps(self.answer(service, path, kwargs)))

    def answer(self, service: str, path: str, kwargs: dict[str, Any]) -> Any:
        if service == "experiments" and path == "/v1/allocations":
            cells = [{"experiment_id": "e1"}] if self.treatments else []
            return {"allocations": cells, "treatments": self.treatments}
        if service == "experiments" and path == "/v1/exposures":
            self.exposures.append(kwargs["json"])
            return {"logged": 1}
        if service == "recommender":
            carried = carried_treatments()  # what the resilient client would send
            self.headers.append({TREATMENTS_HEADER: carried} if carried else {})
        if service == "history":
            return {"items": [{"title_id": "t1", "position_s": 30, "duration_s": 120}]}
        if service == "profiles":
            return {"items": [{"title_id": "t2"}, {"title_id": "t9"}]}
        if service == "recommender":
            asked = carried_treatments()
            model = asked.partition("=")[2] or None
            return {
                "maturity": (kwargs.get("params") or {}).get("maturity"),
                "model": {"name": model or "recency-ease", "asked": model},
                "rows": [
                    {
                        "id": "top-picks",
                        "title": "Top picks",
                        "items": [{"title_id": "t3", "reason": "x"}],
                    },
                    {
                        "id": "trending",
                        "title": "Trending",
                        "items": [{"title_id": "t4", "reason": "y"}],
                    },
                ],
            }
        if path == "/v1/genres":
            return {"genres": ["Horror", "Comedy"]}
        if path == "/v1/titles":
            genre = (kwargs.get("params") or {}).get("genre")
            return {"items": [t for t in TITLES.values() if genre in (None, *t["genres"])]}
        if path == "/v1/titles/batch":
            self.batches.append(kwargs["json"]["ids"])
            return {"titles": [TITLES[i] for i in kwargs["json"]["ids"] if i in TITLES]}
        raise AssertionError(path)


def rows_by_id(page: dict[str, Any]) -> dict[str, list[str]]:
    return {row["id"]: [item["id"] for item in row["items"]] for row in page["rows"]}


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


async def for_the_profile(gateway: FakeGateway, profile_id: str) -> None:
    """What the home route's `require_profile` does first: carry the profile's treatments."""
    carry_treatments((await gateway.allocator.of(profile_id)).treatments)


async def build(gateway: FakeGateway, maturity: str = "NC-17") -> dict[str, Any]:
    await for_the_profile(gateway, "p1")
    return await HomePage(gateway).build(None, MEMBER, {"id": "p1", "maturity": maturity})  # type: ignore[arg-type]


async def test_all_rows_when_everything_answers(gateway: FakeGateway) -> None:
    page = await build(gateway)
    rows = rows_by_id(page)
    assert page["degraded"] == []
    assert rows["continue-watching"] == ["t1"] and rows["my-list"] == ["t2", "t9"]
    assert rows["top-picks"] == ["t3"] and rows["trending"] == ["t4"]
    assert "genre:Horror" in rows and "genre:Comedy" in rows
    progress = page["rows"][0]["items"][0]
    assert progress["progress"] == 0.25


async def test_maturity_filter_applies_to_every_row(gateway: FakeGateway) -> None:
    rows = rows_by_id(await build(gateway, maturity="PG"))
    assert all("t9" not in ids for ids in rows.values())


async def test_history_down_drops_only_its_row(gateway: FakeGateway) -> None:
    gateway.down = {"history"}
    page = await build(gateway)
    assert page["degraded"] == ["history"]
    assert "continue-watching" not in rows_by_id(page) and "top-picks" in rows_by_id(page)


def age_cache(gateway: FakeGateway, seconds: float = 3600) -> None:
    """Make every cached answer old enough to be refetched, keeping it as a fallback."""
    for _expires, entry in gateway.cache._entries.values():
        if isinstance(entry, dict) and "at" in entry:
            entry["at"] -= seconds


async def test_recommender_down_serves_the_profiles_last_rows(gateway: FakeGateway) -> None:
    await build(gateway)
    gateway.down = {"recommender"}
    age_cache(gateway)
    page = await build(gateway)
    assert page["degraded"] == ["recommender"]
    assert rows_by_id(page)["top-picks"] == ["t3"]


async def test_recommender_down_for_a_new_profile_serves_trending(gateway: FakeGateway) -> None:
    await build(gateway)  # trending seen for this maturity through another profile
    gateway.down = {"recommender"}
    page = await HomePage(gateway).build(None, MEMBER, {"id": "p2", "maturity": "NC-17"})  # type: ignore[arg-type]
    assert page["degraded"] == ["recommender"]
    assert "top-picks" not in rows_by_id(page)
    assert rows_by_id(page)["trending"] == ["t4"]


async def test_recommender_down_with_nothing_cached_still_has_catalog_rows(
    gateway: FakeGateway,
) -> None:
    gateway.down = {"recommender"}
    page = await build(gateway)
    assert page["degraded"] == ["recommender"]
    assert "popular" in rows_by_id(page) and "genre:Horror" in rows_by_id(page)


async def test_catalog_down_serves_last_good_rows_and_titles(gateway: FakeGateway) -> None:
    good = rows_by_id(await build(gateway))
    gateway.down = {"catalog"}
    age_cache(gateway)
    page = await build(gateway)
    assert page["degraded"] == ["catalog"]
    assert rows_by_id(page) == good


async def test_everything_down_is_still_an_answer(gateway: FakeGateway) -> None:
    gateway.down = {"history", "profiles", "recommender", "catalog"}
    page = await build(gateway)
    assert page["rows"] == []
    assert page["degraded"] == ["catalog", "history", "profiles", "recommender"]


async def test_recent_answers_are_reused_under_load(gateway: FakeGateway) -> None:
    await build(gateway)
    first = len(gateway.calls)
    await build(gateway)
    # (the gateway's allocator asks experiments once per profile)
    second = [call for call in gateway.calls[first:] if call[0] != "experiments"]
    # Browse rows and titles come from the cache; history, my list and the recommender's
    # personal rows are asked every time while nothing is kept (no notices to trust).
    assert len(second) == 3, second


async def test_an_experiment_cell_chooses_the_model_and_the_exposure_is_logged(
    gateway: FakeGateway,
) -> None:
    gateway.treatments = "recommender.model=seq-ease"
    home = HomePage(gateway)
    await for_the_profile(gateway, "p1")
    page = await home.build(None, MEMBER, {"id": "p1", "maturity": "NC-17"})
    assert page["degraded"] == [] and rows_by_id(page)["top-picks"] == ["t3"]
    assert gateway.headers == [{"X-Cinemesh-Treatments": "recommender.model=seq-ease"}]
    for _ in range(5):  # the exposure is sent in the background
        await asyncio.sleep(0)
    assert gateway.exposures == [{"profile_id": "p1", "experiment_ids": ["e1"], "shown": ["t3"]}]
    await home.build(None, MEMBER, {"id": "p1", "maturity": "NC-17"})
    allocations = [c for c in gateway.calls if c == ("experiments", "/v1/allocations")]
    assert len(allocations) == 1  # kept for the profile
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(gateway.exposures) == 1  # the same titles under the same cells: not sent again


async def test_a_page_showing_other_titles_is_exposed_again(gateway: FakeGateway) -> None:
    gateway.treatments = "recommender.model=seq-ease"
    home = HomePage(gateway)
    await for_the_profile(gateway, "p1")
    await home.build(None, MEMBER, {"id": "p1", "maturity": "NC-17"})
    home.allocator.expose("p1", await home.allocator.of("p1"), shown=["t9", "t3"])
    home.allocator.expose("p2", await home.allocator.of("p2"), shown=["t3"])
    for _ in range(5):
        await asyncio.sleep(0)
    assert [(e["profile_id"], e["shown"]) for e in gateway.exposures] == [
        ("p1", ["t3"]),
        ("p1", ["t9", "t3"]),
        ("p2", ["t3"]),
    ]


async def test_experiments_down_means_control_and_a_whole_page(gateway: FakeGateway) -> None:
    gateway.treatments = "recommender.model=seq-ease"
    gateway.down = {"experiments"}
    page = await build(gateway)
    assert page["degraded"] == [] and rows_by_id(page)["top-picks"] == ["t3"]
    assert gateway.headers == [{}]  # no overrides: control
    await asyncio.sleep(0)
    assert gateway.exposures == []


PERSONAL = ("history", "profiles", "recommender")


def listening(gateway: FakeGateway, epoch: list[object]) -> FakeGateway:
    for kept in gateway.parts.parts.values():
        kept.epoch = lambda: epoch[0]
        kept.settle_s = 0.0
    return gateway


async def page_for(
    gateway: FakeGateway, maturity: str = "NC-17"
) -> tuple[dict[str, Any], set[str]]:
    """A page built for the member, and which personal services it asked."""
    first = len(gateway.calls)
    page = await HomePage(gateway).build(None, MEMBER, {"id": "p1", "maturity": maturity})
    return page, {service for service, _ in gateway.calls[first:] if service in PERSONAL}


async def test_pages_built_together_share_one_refresh_of_the_browse_rows(
    gateway: FakeGateway,
) -> None:
    home = HomePage(gateway)
    pages = await asyncio.gather(
        *(home.build(None, MEMBER, {"id": f"p{n}", "maturity": "PG"}) for n in range(10))  # type: ignore[arg-type]
    )
    assert all(page["degraded"] == [] and page["rows"] for page in pages)
    assert [path for _service, path in gateway.calls].count("/v1/genres") == 1


async def test_pages_hydrating_together_ask_the_catalog_for_each_title_once(
    gateway: FakeGateway,
) -> None:
    home = HomePage(gateway)
    first, second = await asyncio.gather(
        home._batch(None, ["t1", "t2"], HomeSources()),  # type: ignore[arg-type]
        home._batch(None, ["t2", "t3"], HomeSources()),  # type: ignore[arg-type]
    )
    assert set(first) == {"t1", "t2"} and set(second) == {"t2", "t3"}
    assert [path for _service, path in gateway.calls].count("/v1/titles/batch") == 2
    assert gateway.batches == [["t1", "t2"], ["t3"]]


async def test_kept_answers_build_the_next_page_without_asking_until_a_notice(
    gateway: FakeGateway,
) -> None:
    listening(gateway, [("conn", 0)])
    first, asked = await page_for(gateway)
    assert asked == set(PERSONAL)
    again, asked = await page_for(gateway)
    assert asked == set() and again == first
    gateway.parts.parts["history"].forget(["p1"])  # history says p1's positions changed
    _, asked = await page_for(gateway)
    assert asked == {"history"}
    gateway.parts.forget_account("a1")  # the member changed something through the gateway
    _, asked = await page_for(gateway)
    assert asked == set(PERSONAL)


async def test_a_kept_answer_is_used_only_while_its_service_answered_recently(
    gateway: FakeGateway,
) -> None:
    listening(gateway, [("conn", 0)])
    gateway.answering = False
    await page_for(gateway)
    _, asked = await page_for(gateway)
    assert asked == set(PERSONAL)  # each page asks again: that is how an outage shows
    gateway.down = {"recommender"}
    page, _ = await page_for(gateway)
    assert page["degraded"] == ["recommender"]


async def test_kept_rows_of_another_maturity_are_not_used(gateway: FakeGateway) -> None:
    listening(gateway, [("conn", 0)])
    await page_for(gateway, maturity="NC-17")
    page, asked = await page_for(gateway, maturity="PG")
    assert asked == {"recommender"}
    assert all("t9" not in ids for ids in rows_by_id(page).values())


async def test_nothing_is_kept_while_notices_cannot_arrive(gateway: FakeGateway) -> None:
    listening(gateway, [None])
    await page_for(gateway)
    _, asked = await page_for(gateway)
    assert asked == set(PERSONAL)
