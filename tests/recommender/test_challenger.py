"""The experiment's challenger, seq-ease: recency-EASE blended with a sequence-aware term, fitted
beside a snapshot and served only to the challenger cell; and the search that chose it, which
never reads the test interactions."""

from __future__ import annotations

import itertools
import random
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from cinemesh.contracts.maturity import RATINGS
from cinemesh.services.recommender import candidates, sequence
from cinemesh.services.recommender.dataset import Interactions
from cinemesh.services.recommender.evaluation import evaluate
from cinemesh.services.recommender.snapshot import build_snapshot
from tests.recommender.synthetic import cluster_records, title_ids, training_data

SMALL = sequence.SequenceParams(window=3, decay=0.8, half_life=2.0, share=0.5, neighbours=20)
CHAIN = title_ids("horror")  # watched in this order, a few in a row, by every horror fan


def chain_records(*, users: int = 40, seed: int = 3) -> list[tuple[str, str, float, float]]:
    """Horror fans watch a run of the chain in its order; the other fans as in cluster_records."""
    rng = random.Random(seed)
    records = [r for r in cluster_records() if not r[0].startswith("horror")]
    for n in range(users):
        start = rng.randrange(len(CHAIN) - 5)
        for step, item in enumerate(CHAIN[start : start + rng.randint(4, 6)]):
            records.append((f"chain-fan-{n}", item, 1.0, 1_700_000_000.0 + n + step * 600))
    return records


def test_the_sequence_term_learns_what_comes_after_a_title() -> None:
    data = Interactions.from_records(chain_records())
    term = sequence.transitions(data, SMALL).toarray()
    position = {item: n for n, item in enumerate(data.item_ids)}
    for before, after in itertools.pairwise(CHAIN[1:-1]):
        row = term[position[before]]
        assert data.item_ids[int(np.argmax(row))] == after
        assert row[position[after]] > row[position[CHAIN[CHAIN.index(before) - 1]]]
    assert np.allclose(term.sum(axis=1)[term.sum(axis=1) > 0], 1.0)


def test_titles_watched_in_the_same_second_follow_each_other_both_ways() -> None:
    data = Interactions.from_records([("u", "b", 1.0, 10.0), ("u", "a", 1.0, 10.0)])
    term = sequence.transitions(data, SMALL).toarray()
    a, b = data.item_ids.index("a"), data.item_ids.index("b")
    assert term[a, b] == term[b, a] == 1.0


def test_seq_ease_picks_what_comes_next_and_keeps_the_rows_rules() -> None:
    data = training_data(chain_records())
    snapshot = build_snapshot(data)
    interactions = Interactions.from_records(data.interactions, item_ids=sorted(snapshot.titles))
    model = sequence.SequenceBlend(
        snapshot.model, sequence.sequence_model(interactions, SMALL), SMALL.share
    )
    watched = [(CHAIN[5], 1.0), (CHAIN[4], 1.0), (CHAIN[3], 1.0)]  # newest first
    picks = model.picks(watched, k=4)
    assert picks[0].item == CHAIN[6], picks
    assert not {p.item for p in picks} & {t for t, _ in watched}
    assert all(p.because in {t for t, _ in watched} for p in picks)
    ranked = [p.item for p in model.picks(watched, k=20)]
    assert ranked.index(CHAIN[6]) < ranked.index(CHAIN[2])
    g_only = snapshot.allowed[RATINGS.index("G")]
    assert all(p.item.startswith("kids") for p in model.picks(watched, k=5, allowed=g_only))
    assert [p.item for p in model.picks([], k=3)] == [p.item for p in snapshot.model.picks([], k=3)]
    assert model.similar(CHAIN[4], k=3) == snapshot.model.similar(CHAIN[4], k=3)


def test_the_challenger_is_served_only_once_its_term_is_published(tmp_path: Path) -> None:
    data = training_data(chain_records())
    snapshot = build_snapshot(data)
    challengers = sequence.Challengers(tmp_path)
    served, name = challengers.serve(snapshot, sequence.CHALLENGER)
    assert (served, name) == (snapshot, sequence.CONTROL)  # not published yet: control
    sequence.publish(tmp_path, data=data, version=snapshot.version, params=SMALL)
    served, name = challengers.serve(snapshot, sequence.CHALLENGER)
    assert name == "seq-ease" and isinstance(served.model, sequence.SequenceBlend)
    assert served.model.share == SMALL.share
    assert served.model.picks([(CHAIN[5], 1.0), (CHAIN[4], 1.0)], k=1)[0].item == CHAIN[6]
    assert challengers.serve(snapshot, None) == (snapshot, sequence.CONTROL)
    assert challengers.serve(snapshot, "ials-blend") == (snapshot, sequence.CONTROL)
    for n in range(sequence.KEEP_VERSIONS + 1):
        sequence.publish(tmp_path, data=data, version=f"v{n}", params=SMALL)
    assert len(list(sequence.folder_of(tmp_path, "x").parent.iterdir())) == sequence.KEEP_VERSIONS


def test_the_harness_measures_every_candidate_beside_the_baselines() -> None:
    report = evaluate(Interactions.from_records(chain_records()), tuned=False)
    names = [r.model for r in report.results]
    assert names[:4] == ["popularity", "item-knn (cosine)", "ease", "recency-ease"]
    assert names[4:] == list(candidates.GRID) and names[-1] == sequence.CHALLENGER
    assert all(0.0 <= r.metrics.ndcg_at_10 <= 1.0 for r in report.results)
    assert report.validation == []  # nothing was tuned


def with_other_test_interactions(data: Interactions, seed: int) -> Interactions:
    """The same interactions, except that each user's held-out (test) titles are others."""
    train, test = data.temporal_split(0.2)
    held_out = (
        data.positions_from_end()
        < np.bincount(test.users, minlength=len(data.user_ids))[data.users]
    )
    items = data.items.copy()
    items[held_out] = np.random.default_rng(seed).integers(0, len(data.item_ids), held_out.sum())
    changed = replace(data, items=items)
    assert np.array_equal(changed.temporal_split(0.2)[0].items, train.items)
    return changed


def test_the_search_never_reads_the_test_interactions() -> None:
    """Two data sets with the same training part and different test parts: every validation
    trial and every choice are the same, while the test metrics differ."""
    data = Interactions.from_records(chain_records(users=60))
    first = evaluate(data)
    second = evaluate(with_other_test_interactions(data, seed=1))
    assert first.validation and [asdict(t) for t in first.validation] == [
        asdict(t) for t in second.validation
    ]
    assert [r.params for r in first.results] == [r.params for r in second.results]
    assert [r.metrics for r in first.results] != [r.metrics for r in second.results]
    tried = {t.candidate for t in first.validation}
    assert tried == {"recency-ease", *candidates.GRID}
