"""The iALS candidate: fitted by `implicit`, folded in per profile and blended with the served
model (measured offline beside the served challenger, seq-ease)."""

from __future__ import annotations

import numpy as np

from cinemesh.contracts.maturity import RATINGS
from cinemesh.services.recommender import ials
from cinemesh.services.recommender.dataset import Interactions
from cinemesh.services.recommender.snapshot import build_snapshot
from tests.recommender.synthetic import cluster_records, title_ids, training_data

SMALL = ials.IalsParams(factors=8, iterations=8)


def test_item_factors_put_titles_of_one_taste_together() -> None:
    data = Interactions.from_records(cluster_records())
    factors = ials.fit_item_factors(data, SMALL)
    assert factors.shape == (len(data.item_ids), SMALL.factors)
    assert factors.dtype == np.float32
    fold_in = ials.FoldIn(factors, SMALL)
    horror = [data.item_ids.index(t) for t in title_ids("horror")[:3]]
    scores = fold_in.user(np.array(horror), np.ones(3, dtype=np.float32)) @ factors.T
    best = [data.item_ids[i] for i in np.argsort(-scores) if i not in horror][:5]
    assert all(t.startswith("horror") for t in best), best


def test_blended_picks_leave_out_the_history_and_what_the_maturity_forbids() -> None:
    snapshot = build_snapshot(training_data())
    factors = ials.fit_item_factors(
        Interactions.from_records(training_data().interactions, item_ids=sorted(snapshot.titles)),
        SMALL,
    )
    model = ials.BlendModel(snapshot.model, ials.FoldIn(factors, SMALL))
    watched = [(t, 1.0) for t in title_ids("comedy")[:3]]
    g_only = snapshot.allowed[RATINGS.index("G")]
    picks = model.picks(watched, k=5, allowed=g_only)
    assert picks and all(p.item.startswith("kids") for p in picks)
    picks = model.picks(watched, k=5)
    assert not {p.item for p in picks} & {t for t, _ in watched}
    assert all(p.because in {t for t, _ in watched} for p in picks)
    assert [p.item for p in model.picks([], k=3)] == [p.item for p in snapshot.model.picks([], k=3)]
