"""The home page: rows gathered from history, profiles, the recommender and the catalog in
parallel, each with its own deadline and fallback, hydrated with one batch call. A dependency
that fails drops or replaces its rows and is named in `degraded`; the page itself still
answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import Request

from cinemesh.contracts.maturity import allows
from cinemesh.contracts.rows import TRENDING, is_recommendation
from cinemesh.platform.auth import Principal
from cinemesh.platform.errors import ApiError
from cinemesh.platform.http import Response as ServiceResponse
from cinemesh.platform.single_flight import SingleFlight
from cinemesh.services.gateway.core import Gateway
from cinemesh.services.gateway.up_next import resolve_up_next

GENRE_ROWS = 4
ROW_LENGTH = 20
BROWSE_FRESH_S = 15.0  # genre and popular rows change slowly
TITLE_FRESH_S = 60.0
TITLE_FIELDS = (
    "id",
    "title",
    "kind",
    "year",
    "genres",
    "maturity_rating",
    "synopsis",
    "runtime_min",
    "poster_url",
    "backdrop_url",
    "artwork",
    "popularity",
    "playable",
)


@dataclass
class HomeSources:
    """What each dependency answered (None when it could not)."""

    continue_watching: list[dict[str, Any]] | None = None
    my_list: list[str] | None = None
    recommended: list[dict[str, Any]] | None = None
    popular: list[dict[str, Any]] | None = None
    genre_rows: list[dict[str, Any]] | None = None
    degraded: set[str] = field(default_factory=set)


class HomePage:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.allocator = gateway.allocator
        self._refreshing: SingleFlight[str, tuple[Any, bool]] = SingleFlight()
        self._fetching_titles: SingleFlight[str, dict[str, dict[str, Any]]] = SingleFlight()

    @property
    def deadline_s(self) -> float:
        return self.gw.settings.dependency_deadline_ms / 1000

    async def build(
        self, request: Request, who: Principal, profile: dict[str, Any]
    ) -> dict[str, Any]:
        profile_id = str(profile["id"])
        maturity = str(profile.get("maturity") or "NC-17")
        sources = HomeSources()
        await asyncio.gather(
            self._guard(
                sources, "history", self._continue_watching(request, who, profile_id, sources)
            ),
            self._guard(sources, "profiles", self._my_list(request, who, profile_id, sources)),
            self._guard(
                sources,
                "recommender",
                self._recommended(request, who, profile_id, maturity, sources),
            ),
            self._guard(sources, "catalog", self._browse(request, maturity, sources)),
        )
        titles = await self._hydrate(request, sources)
        rows = self._rows(sources, titles, maturity)
        return {"profile_id": profile_id, "rows": rows, "degraded": sorted(sources.degraded)}

    async def _guard(self, sources: HomeSources, service: str, work: Awaitable[None]) -> None:
        try:
            # asyncio.timeout runs `work` in this task; wait_for would start one more per guard
            async with asyncio.timeout(self.deadline_s * 1.5):
                await work
        except (ApiError, TimeoutError, ValueError, KeyError, TypeError):
            sources.degraded.add(service)

    async def _part(
        self,
        request: Request,
        who: Principal,
        service: str,
        profile_id: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        fits: Callable[[Any], bool] = lambda _kept: True,
    ) -> tuple[Any, bool]:
        """What `service` answers for the profile, and whether it was asked now: kept from an
        earlier page while nothing changed and the service answers (kept_parts.py) and it
        `fits` this page; else asked."""
        parts = self.gw.parts
        kept = parts.get(service, profile_id)
        if kept is not None and fits(answer := orjson.loads(kept)):
            return answer, False
        ticket = parts.ticket(service)
        response = await self._ask(request, service, path, params)
        parts.keep(service, who.account_id, profile_id, response.body, ticket)
        return response.json(), True

    async def _get(self, request: Request, service: str, path: str, **params: Any) -> Any:
        return (await self._ask(request, service, path, params or None)).json()

    async def _ask(
        self,
        request: Request,
        service: str,
        path: str,
        params: dict[str, Any] | None,
    ) -> ServiceResponse:
        response = await self.gw.call(
            service, "GET", path, request=request, params=params, timeout_s=self.deadline_s
        )
        if response.status != 200:
            raise ValueError(f"{service} answered {response.status}")
        return response

    async def _continue_watching(
        self, request: Request, who: Principal, profile_id: str, sources: HomeSources
    ) -> None:
        body, _asked = await self._part(
            request,
            who,
            "history",
            profile_id,
            f"/v1/profiles/{profile_id}/continue-watching",
            params={"up_next": "true"},
        )

        async def title(title_id: str) -> dict[str, Any] | None:
            found: dict[str, Any] = await self._get(request, "catalog", f"/v1/titles/{title_id}")
            return found

        sources.continue_watching = await resolve_up_next(_items(body), title)

    async def _my_list(
        self, request: Request, who: Principal, profile_id: str, sources: HomeSources
    ) -> None:
        body, _asked = await self._part(
            request, who, "profiles", profile_id, f"/v1/profiles/{profile_id}/my-list"
        )
        sources.my_list = [str(item.get("title_id", item.get("id"))) for item in _items(body)]

    async def _recommended(
        self,
        request: Request,
        who: Principal,
        profile_id: str,
        maturity: str,
        sources: HomeSources,
    ) -> None:
        """The profile's rows; when the recommender cannot answer, the last ones it gave
        (remembered whenever it answered anew), else trending at this maturity. The profile's
        experiment cells choose the model (the request carries their treatments: see
        `Gateway.require_profile`); an exposure is logged when the rows came from the model
        its cell asked for."""
        assignment = await self.allocator.of(profile_id)
        model = assignment.override("recommender.model")
        try:
            body, asked = await self._part(
                request,
                who,
                "recommender",
                profile_id,
                "/v1/rows",
                params={"profile_id": profile_id, "maturity": maturity, "limit": ROW_LENGTH},
                # not kept at another level, nor from another cell's model
                fits=lambda kept: (
                    kept.get("maturity") == maturity and _model(kept, "asked") == model
                ),
            )
            rows = list(body.get("rows", []))
            if model is None or _model(body, "name") == model:
                self.allocator.expose(profile_id, assignment, shown=_shown(rows))
        except (ApiError, ValueError, KeyError, TypeError, AttributeError):
            sources.degraded.add("recommender")
            rows = (
                await self._stored(f"recs:{profile_id}")
                or await self._stored(f"trending:{maturity}")
                or []
            )
        else:
            if asked:
                await self._remember(f"recs:{profile_id}", rows)
                trending = [row for row in rows if str(row.get("id", "")).startswith(TRENDING)]
                if trending:
                    await self._remember(f"trending:{maturity}", trending)
        sources.recommended = rows

    async def _through_cache(
        self, key: str, fresh_s: float, fetch: Callable[[], Awaitable[Any]]
    ) -> tuple[Any, bool]:
        """A recent cached value, else fetch and remember; on failure the last value, stale.
        Pages that find it out of date meanwhile share the one fetch."""
        entry = await self.gw.cache.get(key)
        if entry and time.time() - entry["at"] < fresh_s:
            return entry["value"], True
        return await self._refreshing.run(key, lambda: self._refresh(key, entry, fetch))

    async def _refresh(
        self, key: str, entry: dict[str, Any] | None, fetch: Callable[[], Awaitable[Any]]
    ) -> tuple[Any, bool]:
        try:
            value = await fetch()
        except (ApiError, ValueError, KeyError, TypeError):
            return (entry["value"] if entry else None), False
        await self._remember(key, value)
        return value, True

    async def _remember(self, key: str, value: Any) -> None:
        await self.gw.cache.set(
            key, {"at": time.time(), "value": value}, ttl_s=self.gw.settings.fallback_ttl_s
        )

    async def _stored(self, key: str) -> Any:
        entry = await self.gw.cache.get(key)
        return entry["value"] if entry else None

    async def _browse(self, request: Request, maturity: str, sources: HomeSources) -> None:
        async def fetch() -> dict[str, Any]:
            popular = _compacted(
                await self._get(
                    request,
                    "catalog",
                    "/v1/titles",
                    sort="popularity",
                    limit=ROW_LENGTH * 2,
                    max_maturity=maturity,
                )
            )
            genres = [
                str(g.get("name", g)) if isinstance(g, dict) else str(g)
                for g in _items(await self._get(request, "catalog", "/v1/genres"))
            ]
            bodies = await asyncio.gather(
                *(
                    self._get(
                        request,
                        "catalog",
                        "/v1/titles",
                        genre=genre,
                        sort="popularity",
                        limit=ROW_LENGTH,
                        max_maturity=maturity,
                    )
                    for genre in genres[:GENRE_ROWS]
                )
            )
            return {
                "popular": popular,
                "genre_rows": [
                    {"genre": genre, "items": _compacted(body)}
                    for genre, body in zip(genres, bodies, strict=False)
                ],
            }

        browse, fresh = await self._through_cache(f"browse:{maturity}", BROWSE_FRESH_S, fetch)
        if browse:
            sources.popular, sources.genre_rows = browse["popular"], browse["genre_rows"]
        if not fresh:
            sources.degraded.add("catalog")

    async def _hydrate(self, request: Request, sources: HomeSources) -> dict[str, dict[str, Any]]:
        """Compact titles for every id the rows mention: one batch call, cache when it fails."""
        ids = {str(i.get("title_id")) for i in sources.continue_watching or []}
        ids |= set(sources.my_list or [])
        for row in sources.recommended or []:
            ids |= {str(item.get("title_id", item.get("id"))) for item in row.get("items", [])}
        titles: dict[str, dict[str, Any]] = {}
        for title in [
            *(sources.popular or []),
            *(t for row in sources.genre_rows or [] for t in row["items"]),
        ]:
            titles.setdefault(str(title.get("id")), title)
        missing = sorted(ids - set(titles))
        if missing:
            titles.update(await self._batch(request, missing, sources))
        return titles

    async def _batch(
        self, request: Request, ids: list[str], sources: HomeSources
    ) -> dict[str, dict[str, Any]]:
        """Titles from the cache when recent, the rest in one batch call; stale ones if it fails."""
        found: dict[str, dict[str, Any]] = {}
        stale: dict[str, dict[str, Any]] = {}
        for title_id in ids:
            entry = await self.gw.cache.get(f"title:{title_id}")
            if entry and time.time() - entry["at"] < TITLE_FRESH_S:
                found[title_id] = entry["value"]
            elif entry:
                stale[title_id] = entry["value"]
        wanted = [title_id for title_id in ids if title_id not in found]
        if not wanted:
            return found
        try:
            for fetched in await self._fetching_titles.run_batch(
                wanted, lambda missing: self._fetch_titles(request, missing)
            ):
                found.update(
                    (title_id, fetched[title_id]) for title_id in wanted if title_id in fetched
                )
        except (ApiError, ValueError, KeyError, TypeError):
            sources.degraded.add("catalog")
            found.update(stale)
        return found

    async def _fetch_titles(self, request: Request, ids: list[str]) -> dict[str, dict[str, Any]]:
        """One batch call for titles no page is fetching yet; pages wanting them meanwhile
        wait for it instead of asking the catalog again."""
        response = await self.gw.call(
            "catalog",
            "POST",
            "/v1/titles/batch",
            request=request,
            json={"ids": ids},
            timeout_s=self.deadline_s,
            idempotent=True,
        )
        if response.status != 200:
            raise ValueError(response.status)
        fetched = {}
        for title in _items(response.json()):
            fetched[str(title["id"])] = compact = _compact(title)
            await self._remember(f"title:{title['id']}", compact)
        return fetched

    def _rows(
        self, sources: HomeSources, titles: dict[str, dict[str, Any]], maturity: str
    ) -> list[dict[str, Any]]:
        def items(ids_and_extras: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
            out = []
            for title_id, extra in ids_and_extras:
                title = titles.get(title_id)
                if title and allows(maturity, str(title.get("maturity_rating", "NC-17"))):
                    out.append({**title, **extra} if extra else title)
            return out[:ROW_LENGTH]

        rows: list[dict[str, Any]] = []
        if sources.continue_watching:
            rows.append(
                _row(
                    "continue-watching",
                    "Continue watching",
                    items([(str(i["title_id"]), _progress(i)) for i in sources.continue_watching]),
                )
            )
        if sources.my_list:
            rows.append(_row("my-list", "My List", items([(t, {}) for t in sources.my_list])))
        for rec in sources.recommended or []:
            rows.append(
                _row(
                    str(rec.get("id")),
                    str(rec.get("title", "")),
                    items(
                        [
                            (str(i.get("title_id", i.get("id"))), {"reason": i.get("reason")})
                            for i in rec.get("items", [])
                        ]
                    ),
                )
            )
        if sources.popular and not any(r["id"].startswith(TRENDING) for r in rows):
            rows.append(
                _row(
                    "popular",
                    "Popular on cinemesh",
                    items([(str(t["id"]), {}) for t in sources.popular]),
                )
            )
        for genre_row in sources.genre_rows or []:
            rows.append(
                _row(
                    f"genre:{genre_row['genre']}",
                    str(genre_row["genre"]),
                    items([(str(t["id"]), {}) for t in genre_row["items"]]),
                )
            )
        return [row for row in rows if row["items"]]


def _model(body: Any, key: str) -> str | None:
    """`model.<key>` of the recommender's answer: `name`, the model that answered; `asked`, the
    one its request asked for (an experiment cell's). None when it has none."""
    model = body.get("model") if isinstance(body, dict) else None
    found = model.get(key) if isinstance(model, dict) else None
    return str(found) if found else None


def _shown(rows: list[Any]) -> list[str]:
    """The titles the recommender's recommendation rows put in front of the profile."""
    return [
        str(item["title_id"])
        for row in rows
        if isinstance(row, dict) and is_recommendation(str(row.get("id", "")))
        for item in row.get("items", [])
        if isinstance(item, dict) and "title_id" in item
    ]


def _row(row_id: str, title: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": row_id, "title": title, "items": items}


def _items(body: Any) -> list[dict[str, Any]]:
    """Accept a list, or an object holding the list under a usual key."""
    if isinstance(body, list):
        return body
    for key in ("items", "titles", "genres", "results", "hits"):
        if isinstance(body, dict) and isinstance(body.get(key), list):
            return list(body[key])
    raise ValueError("unexpected answer shape")


def _compacted(body: Any) -> list[dict[str, Any]]:
    """Browse rows are compacted once when fetched, not on every page that shows them."""
    return [_compact(title) for title in _items(body)]


def _compact(title: dict[str, Any]) -> dict[str, Any]:
    return {key: title[key] for key in TITLE_FIELDS if key in title}


def _progress(item: dict[str, Any]) -> dict[str, Any]:
    position, duration = float(item.get("position_s") or 0), float(item.get("duration_s") or 0)
    return {
        "position_s": position,
        "duration_s": duration,
        "progress": round(position / duration, 4) if duration else 0.0,
        "episode_id": item.get("episode_id"),
    }
