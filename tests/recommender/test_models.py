"""The models on small synthetic data: the algebra of EASE, what the served model recommends
and why, the evaluation protocol and metrics, and the shared snapshot folder."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from cinemesh.contracts.maturity import RATINGS
from cinemesh.services.recommender import algorithms
from cinemesh.services.recommender.collaborative import ItemModel, ModelParams
from cinemesh.services.recommender.dataset import Interactions
from cinemesh.services.recommender.evaluation import evaluate, measure
from cinemesh.services.recommender.service import signal_weight
from cinemesh.services.recommender.slices import between_requests
from cinemesh.services.recommender.snapshot import ModelStore, Snapshot, build_snapshot
from tests.recommender.synthetic import cluster_records, recent, title_ids, training_data


def random_matrix(users: int, items: int, seed: int = 1) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = (rng.random((users, items)) < 0.3).astype(np.float32)
    return sp.csr_matrix(dense)


def reference_ease(x: sp.csr_matrix, lam: float) -> np.ndarray:
    gram = (x.T @ x).toarray().astype(np.float64) + lam * np.eye(x.shape[1])
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


@pytest.mark.parametrize(("users", "items"), [(12, 30), (40, 15)])
def test_ease_matches_the_closed_form_in_both_the_item_and_the_user_space(
    users: int, items: int
) -> None:
    x = random_matrix(users, items)
    solver = algorithms.EaseSolver(x, lam=5.0)
    assert solver.dual == (users < items)
    expected = reference_ease(x, 5.0)
    np.testing.assert_allclose(solver.b_rows(np.arange(items)), expected, atol=1e-4)
    np.testing.assert_allclose(solver.scores(x[:5]), x[:5].toarray() @ expected, atol=1e-4)


def test_pruned_weights_keep_each_items_strongest_positive_neighbours() -> None:
    x = random_matrix(20, 30)
    full = reference_ease(x, 5.0)
    pruned = algorithms.ease(x, lam=5.0, k=3).toarray()
    for i in range(30):
        kept = np.flatnonzero(pruned[i])
        assert len(kept) <= 3 and (pruned[i][kept] > 0).all()
        assert set(kept) == set(np.argsort(-full[i])[:3]) & set(np.flatnonzero(full[i] > 0))


def test_cosine_knn_finds_items_watched_together() -> None:
    x = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 1, 1, 1]], float))
    sims = algorithms.cosine_knn(x, k=1).toarray()
    assert sims.argmax(axis=1).tolist() == [1, 0, 3, 2]
    assert np.diag(sims).sum() == 0


def fitted() -> ItemModel:
    return ItemModel.fit(Interactions.from_records(cluster_records()), ModelParams(lam=10.0))


def test_a_horror_history_gets_horror_picks_explained_by_a_watched_title() -> None:
    model = fitted()
    history = [(t, 1.0) for t in title_ids("horror")[:3]]
    picks = model.picks(history, k=5, exclude={t for t, _ in history})
    assert [p.item.split("-")[0] for p in picks] == ["horror"] * 5
    assert all(p.because in {t for t, _ in history} and p.score > 0 for p in picks)
    assert not {p.item for p in picks} & {t for t, _ in history}


def test_the_latest_titles_weigh_most() -> None:
    model = fitted()
    old_comedy = [(t, 1.0) for t in title_ids("comedy")[:3]]
    new_horror = [(t, 1.0) for t in title_ids("horror")[:3]]
    newest_first = new_horror + old_comedy
    top = model.picks(newest_first, k=1, exclude={t for t, _ in newest_first})[0]
    assert top.item.startswith("horror")
    reversed_top = model.picks(old_comedy + new_horror, k=1, exclude=set())[0]
    assert reversed_top.item.startswith("comedy")


def test_leaving_titles_out_is_dropping_them_from_a_longer_ranking() -> None:
    """Excluded titles are skipped while the ranking is read, however many of them lead it
    (more than the slice read at a time)."""
    rng = np.random.default_rng(3)
    pairs = zip(
        rng.integers(0, 80, 6000).tolist(), rng.integers(0, 300, 6000).tolist(), strict=True
    )
    records = [(f"u{u}", f"i{i}", 1.0, float(n)) for n, (u, i) in enumerate(pairs)]
    model = ItemModel.fit(Interactions.from_records(records), ModelParams(lam=10.0))
    history = [(f"i{i}", 1.0) for i in range(10)]

    ranking = model.picks(history, k=300, fill_popular=False)
    assert len(ranking) > 170
    left_out = {p.item for p in ranking[:150]}
    picks = model.picks(history, k=20, exclude=left_out, fill_popular=False)
    assert picks == [p for p in ranking if p.item not in left_out][:20]

    row = model.similar("i0", k=300)
    assert len(row) > 75
    left_out = {p.item for p in row[:70]}
    assert model.similar("i0", k=5, exclude=left_out) == row[70:75]


def test_an_unknown_user_gets_the_most_popular_items_and_masks_hold() -> None:
    model = fitted()
    picks = model.picks([], k=4)
    counts = dict(zip(model.item_ids, model.popularity, strict=True))
    assert [counts[p.item] for p in picks] == sorted(counts.values(), reverse=True)[:4]
    allowed = np.array([i.startswith("kids") for i in model.item_ids])
    assert all(p.item.startswith("kids") for p in model.picks([], k=20, allowed=allowed))
    similar = model.similar(title_ids("horror")[0], k=5, allowed=allowed)
    assert all(p.item.startswith("kids") for p in similar)


def test_temporal_split_holds_out_each_users_latest_fifth() -> None:
    records = [("u", f"i{n}", 1.0, float(n)) for n in range(10)] + [("solo", "i0", 1.0, 5.0)]
    train, test = Interactions.from_records(records).temporal_split(0.2)
    held = sorted(test.item_ids[i] for i in test.items)
    assert held == ["i8", "i9"]
    assert "solo" in {train.user_ids[u] for u in train.users}
    assert len(train) + len(test) == 11


def test_metrics_of_a_perfect_and_of_a_useless_scorer() -> None:
    data = Interactions.from_records(cluster_records())
    train, test = data.temporal_split(0.2)
    truth = test.matrix().toarray()
    perfect = measure(lambda users: truth[users], train, test)
    assert perfect.ndcg_at_10 == perfect.recall_at_20 == perfect.hr_at_10 == 1.0
    useless = measure(lambda users: -truth[users], train, test)
    assert useless.hr_at_10 < 1.0 and useless.ndcg_at_10 < perfect.ndcg_at_10


def test_evaluate_runs_every_model_through_one_harness() -> None:
    report = evaluate(Interactions.from_records(cluster_records()), tuned=False)
    names = [r.model for r in report.results]
    assert names == [
        "popularity",
        "item-knn (cosine)",
        "ease",
        "recency-ease",
        "rp3beta",
        "ease-decay",
        "ials",
        "ials-blend",
        "seq-ease",
    ]
    ours = report.results[3].metrics
    assert ours.ndcg_at_10 > report.results[0].metrics.ndcg_at_10


def test_signal_weights_order_the_evidence() -> None:
    watched = signal_weight(plays=1, progress=1.0, rating=0, in_list=False)
    assert signal_weight(plays=0, progress=0.3, rating=0, in_list=False) < watched
    assert signal_weight(plays=2, progress=1.0, rating=0, in_list=False) > watched
    assert signal_weight(plays=1, progress=1.0, rating=1, in_list=False) > watched
    assert signal_weight(plays=3, progress=1.0, rating=-1, in_list=True) == 0.0
    assert signal_weight(plays=0, progress=0.0, rating=0, in_list=True) == 0.5


def test_snapshots_are_published_whole_and_the_newest_is_loaded(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    assert store.latest() is None
    versions = []
    for _ in range(5):
        snapshot = build_snapshot(training_data(), params=ModelParams(lam=10.0))
        store.publish(snapshot)
        versions.append(snapshot.version)
    assert store.latest()["version"] == versions[-1]  # type: ignore[index]
    kept = sorted(p.name for p in (tmp_path / "models").iterdir() if p.is_dir())
    assert kept == versions[-3:]
    loaded = store.load(versions[-1])
    assert loaded.trending == snapshot.trending and loaded.titles == snapshot.titles
    assert (loaded.model.weights != snapshot.model.weights).nnz == 0


def assert_same(loaded: Snapshot, built: Snapshot) -> None:
    assert loaded.describe() == built.describe() and loaded.model.item_ids == built.model.item_ids
    assert (loaded.model.weights != built.model.weights).nnz == 0
    assert np.array_equal(loaded.model.popularity, built.model.popularity)
    assert loaded.titles == built.titles and loaded.trending == built.trending
    assert loaded.trending_at == built.trending_at
    assert loaded.genre_trending_at == built.genre_trending_at
    assert len(loaded.allowed) == len(built.allowed) == len(RATINGS)
    assert all(np.array_equal(a, b) for a, b in zip(loaded.allowed, built.allowed, strict=True))


def load_beside_requests(store: ModelStore, version: str, serving: Snapshot | None) -> Snapshot:
    """Load on an event loop while another task runs; it must have run between the slices."""

    async def run() -> tuple[Snapshot, int]:
        turns, loading = 0, True

        async def requests() -> None:
            nonlocal turns
            while loading:
                turns += 1
                await asyncio.sleep(0)

        other = asyncio.create_task(requests())
        await asyncio.sleep(0)
        started = turns
        loaded = await between_requests(store.assemble(version, serving=serving))
        loading = False
        await other
        assert turns - started >= 2 * len(RATINGS), turns - started
        return loaded, turns

    return asyncio.run(run())[0]


def test_a_snapshot_loaded_a_slice_at_a_time_reads_as_it_was_built(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    params = ModelParams(lam=10.0)
    records = [(u, i, w, recent(days=1) + t % 1000) for u, i, w, t in cluster_records()]
    first = build_snapshot(training_data(records), params=params)
    store.publish(first)
    serving = store.load(first.version)
    newer = training_data(records + [(f"late-{u}", i, w, t) for u, i, w, t in records[:60]])
    second = build_snapshot(newer, params=params)
    store.publish(second)
    assert second.trending != first.trending  # new interactions, the same catalog
    assert_same(load_beside_requests(store, second.version, None), second)
    reusing = load_beside_requests(store, second.version, serving)
    assert_same(reusing, second)
    assert reusing.titles is serving.titles and reusing.model.index is serving.model.index


def test_a_changed_catalog_is_read_anew_not_reused(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    params = ModelParams(lam=10.0)
    first = build_snapshot(training_data(), params=params)
    store.publish(first)
    serving = store.load(first.version)
    renamed = training_data()
    renamed.titles[0] = {**renamed.titles[0], "name": "A New Name", "maturity_rating": "G"}
    second = build_snapshot(renamed, params=params)
    store.publish(second)
    loaded = load_beside_requests(store, second.version, serving)
    assert_same(loaded, second)
    assert loaded.titles[str(renamed.titles[0]["title_id"])].name == "A New Name"
