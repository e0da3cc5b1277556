"""recommender: rows for a profile's home page, learned from what profiles watch.

Consumes `history.watched`, `playback.progress`/`playback.stopped` (implicit signal),
`profiles.rating.set`, `profiles.mylist.changed`, `profiles.profile.*` (subscribed as
`profiles.>`) and `catalog.title.*`, in batches: one transaction per batch, which also records
the event ids, so a redelivered event changes nothing (events.py), in a process of its own
beside the one that serves (ingest.py). Trains a recency-weighted
EASE model (collaborative.py) plus time-decayed trending in a trainer process of its own
(training.py), every `CINEMESH_RECOMMENDER_RETRAIN_INTERVAL_S` seconds when the data changed,
and on demand. Snapshots are shared under `<data_dir>/recommender/models/`; every instance
serves the newest. Each instance keeps the profile histories it read until the consumer
process that changes one says so (platform/kept.py).

API (internal; every call needs the service credential):

- `GET /v1/rows?profile_id=P&maturity=PG-13&limit=20` ->
  `{profile_id, maturity, model: {name, version, trained_at}, rows: [{id, title, items: [{title_id,
  score, reason}]}]}`. Rows, in order, each only when it has items:
  `top-picks` (collaborative picks with their reason, topped up with popular titles in the
  profile's genres, then popular ones; a new profile gets what is popular at its maturity),
  `because-you-watched:<title_id>` (up to two, for the latest titles finished or thumbed up),
  `trending` (time-decayed popularity, half-life 7 days), `trending:<genre>` (two: the
  profile's favourite genres, or the hottest ones for a new profile). Titles above `maturity`
  (default: the profile's own limit from profile events, else NC-17) never appear; finished
  and thumbed-down titles never appear; personal rows also leave out titles in progress, thumbed up and
  in My List. `limit` is 1..100 items per row. 503 `MODEL_NOT_READY` only before the very
  first model exists. The `X-Cinemesh-Treatments` header (`recommender.model=seq-ease`,
  set by the gateway for a profile in an experiment's challenger cell) serves recency-EASE
  blended with a sequence-aware term (sequence.py) instead of the current model;
  `model.name` says which answered.
- `POST /v1/retrain` -> trains now from the database and serves the result; the previous
  snapshot answers until then. `{retrained, model}`.
- `GET /v1/model` -> the serving snapshot: version, trained_at, profiles, titles, ...
- `GET /v1/profiles/{profile_id}/interactions` -> what the service knows about a profile.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cinemesh.contracts.notices import RECOMMENDER_HISTORIES_CHANGED
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import load_settings
from cinemesh.services.recommender import ingest
from cinemesh.services.recommender.api import router
from cinemesh.services.recommender.collaborative import ModelParams
from cinemesh.services.recommender.sequence import Challengers
from cinemesh.services.recommender.service import Histories
from cinemesh.services.recommender.serving import keep_in_service
from cinemesh.services.recommender.settings import RecommenderSettings
from cinemesh.services.recommender.snapshot import ModelStore
from cinemesh.services.recommender.training import ModelKeeper

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app() -> FastAPI:
    settings = load_settings(RecommenderSettings)
    runtime = ServiceRuntime(
        "recommender", migrations=MIGRATIONS, uses_events=True, database_url=settings.database_url
    )
    keeper = ModelKeeper(
        store=ModelStore(runtime.data_dir / "recommender" / "models"),
        db=runtime.database,
        params=ModelParams(settings.lam, settings.half_life, settings.neighbours),
        interval_s=settings.retrain_interval_s,
        poll_s=settings.poll_s,
    )
    ingest.run_beside(runtime)  # the events are consumed in a process of its own (ingest.py)
    histories = Histories(
        runtime.database,
        runtime.kept_reads(RECOMMENDER_HISTORIES_CHANGED, max_age_s=settings.kept_reads_s),
    )
    keep_in_service(runtime, keeper)
    challengers = Challengers(keeper.store.root)  # the experiment's challenger (sequence.py)
    return runtime.build_app(router, provides=[keeper, histories, challengers])
