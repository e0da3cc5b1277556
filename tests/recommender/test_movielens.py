"""The documented evaluation on MovieLens (latest-small): ours beats popularity, item-kNN and
EASE on NDCG@10 and Recall@20, all measured by one harness in one run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cinemesh.cli.main import app

REPO = Path(__file__).resolve().parents[2]
RATINGS = REPO.parent / "shared" / "data" / "movielens-latest-small" / "ratings.csv"


@pytest.mark.slow
@pytest.mark.skipif(not RATINGS.exists(), reason=f"{RATINGS} is not on this machine")
def test_ours_beats_every_baseline_on_movielens(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        app, ["recs", "evaluate", "--interactions", str(RATINGS), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    results = {r["model"]: r["metrics"] for r in json.loads(out.read_text())["results"]}
    ours = results.pop("recency-ease")
    challenger = results.pop("ials-blend")
    assert set(results) == {"popularity", "item-knn (cosine)", "ease", "ials"}
    assert challenger["ndcg_at_10"] > ours["ndcg_at_10"]
    for name, baseline in results.items():
        assert ours["ndcg_at_10"] > baseline["ndcg_at_10"], name
        assert ours["recall_at_20"] > baseline["recall_at_20"], name
    assert ours["users"] == 610
