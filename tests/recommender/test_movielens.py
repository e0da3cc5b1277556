"""The documented evaluation on MovieLens (latest-small): ours beats popularity, item-kNN and
EASE on NDCG@10 and Recall@20, and the challenger chosen on the validation split beats ours,
all measured by one harness in one run (`cinemesh recs evaluate`, run once for the module)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cinemesh.cli.main import app
from cinemesh.services.recommender.candidates import GRID
from cinemesh.services.recommender.sequence import CHALLENGER, SequenceParams

REPO = Path(__file__).resolve().parents[2]
RATINGS = REPO.parent / "shared" / "data" / "movielens-latest-small" / "ratings.csv"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not RATINGS.exists(), reason=f"{RATINGS} is not on this machine"),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("evaluate") / "report.json"
    result = CliRunner().invoke(
        app, ["recs", "evaluate", "--interactions", str(RATINGS), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    found: dict[str, Any] = json.loads(out.read_text())
    return found


def test_ours_beats_every_baseline_on_movielens(report: dict[str, Any]) -> None:
    results = {r["model"]: r["metrics"] for r in report["results"]}
    ours = results["recency-ease"]
    for name in ("popularity", "item-knn (cosine)", "ease"):
        assert ours["ndcg_at_10"] > results[name]["ndcg_at_10"], name
        assert ours["recall_at_20"] > results[name]["recall_at_20"], name
    assert ours["users"] == 610
    assert set(results) == {"popularity", "item-knn (cosine)", "ease", "recency-ease", *GRID}


def test_seq_ease_chosen_on_validation_beats_recency_ease_by_5_percent_on_movielens(
    report: dict[str, Any],
) -> None:
    """The served challenger's settings are the ones the validation split chose, and with them
    it beats recency-ease on the test split, measured once."""
    results = {r["model"]: r for r in report["results"]}
    chosen = results[CHALLENGER]["params"]
    served = {k: v for k, v in asdict(SequenceParams()).items() if k != "neighbours"}
    assert chosen == served
    challenger, ours = results[CHALLENGER]["metrics"], results["recency-ease"]["metrics"]
    assert challenger["ndcg_at_10"] >= 1.05 * ours["ndcg_at_10"], (challenger, ours)
    assert challenger["recall_at_20"] > ours["recall_at_20"], (challenger, ours)
    tried = {(t["candidate"], json.dumps(t["params"])): t for t in report["validation"]}
    on_validation = tried[(CHALLENGER, json.dumps(chosen))]["ndcg_at_10"]
    assert on_validation >= 1.05 * tried[("recency-ease", "{}")]["ndcg_at_10"]
