"""A test-only stand-in for the recommender that knows what the real one cannot: the hidden
tastes of simulated members (the JSON lines `cinemesh simulate --tastes` writes). It answers
`GET /v1/rows` as the recommender does, one "Top picks" row, with the model the experiment
cell asks for (`recommender.model`):
- `taste-first`: the titles whose genres meet the member's taste best first, so this
  challenger truly recommends better for these members;
- anything else (`taste-blind`): the same titles in an order that ignores the taste (a hash
  of profile and title).

It registers as `recommender` in the platform's registry, so the real gateway calls it:
`python -m tests.experiments.taste_recommender` with CINEMESH_* as the supervisor sets them,
TASTE_CATALOG (a JSON object: title id -> genres) and TASTE_FILE."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Query

from cinemesh.contracts.treatments import treatment
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.serve import serve
from cinemesh.platform.treatments import TREATMENTS_HEADER

ROW_LENGTH = 10
TASTE_FIRST = "taste-first"
TASTE_BLIND = "taste-blind"


class Tastes:
    """The members' tastes as the simulator wrote them, read again when a profile is new."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.known: dict[str, dict[str, float]] = {}

    def of(self, profile_id: str) -> dict[str, float]:
        if profile_id not in self.known and self.path.exists():
            for line in self.path.read_text().splitlines():
                if line.strip():
                    told = json.loads(line)
                    self.known[told["profile_id"]] = {
                        g.casefold(): float(w) for g, w in told["genres"].items()
                    }
        return self.known.get(profile_id, {})


def shuffled(profile_id: str, title_id: str) -> float:
    digest = hashlib.sha256(f"{profile_id}/{title_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def ranked(
    catalog: dict[str, list[str]], taste: dict[str, float], profile_id: str, model: str
) -> list[tuple[str, float]]:
    def match(title_id: str) -> float:
        return sum(taste.get(g.casefold(), 0.0) for g in set(catalog[title_id]))

    if model == TASTE_FIRST:
        order = sorted(catalog, key=lambda t: (-match(t), shuffled(profile_id, t)))
    else:
        order = sorted(catalog, key=lambda t: shuffled(profile_id, t))
    return [(t, match(t)) for t in order[:ROW_LENGTH]]


def create_app() -> FastAPI:
    runtime = ServiceRuntime("recommender")
    catalog: dict[str, list[str]] = json.loads(Path(os.environ["TASTE_CATALOG"]).read_text())
    tastes = Tastes(Path(os.environ["TASTE_FILE"]))
    router = APIRouter(prefix="/v1")

    @router.get("/rows")
    async def rows(
        profile_id: str = Query(..., min_length=1, max_length=64),
        maturity: str | None = Query(None),
        limit: int = Query(20, ge=1, le=100),
        treatments: Annotated[str | None, Header(alias=TREATMENTS_HEADER)] = None,
    ) -> dict[str, Any]:
        asked = treatment(treatments, "recommender.model")
        model = TASTE_FIRST if asked == TASTE_FIRST else TASTE_BLIND
        top = ranked(catalog, tastes.of(profile_id), profile_id, model)
        return {
            "profile_id": profile_id,
            "maturity": maturity or "NC-17",
            "model": {"name": asked or model, "asked": asked, "version": "1", "trained_at": ""},
            "rows": [
                {
                    "id": "top-picks",
                    "title": "Top picks for you",
                    "items": [
                        {"title_id": t, "score": round(m, 4), "reason": model}
                        for t, m in top[:limit]
                    ],
                }
            ],
        }

    return runtime.build_app(router)


if __name__ == "__main__":
    serve("recommender", create_app)
