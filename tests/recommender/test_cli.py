"""`cinemesh recs train | recommend | evaluate` on small files, and bad input: a clear
message and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cinemesh.cli.main import app
from tests.recommender.synthetic import cluster_records, title_ids

runner = CliRunner()


def write_csv(path: Path, header: str = "user,item,rating,timestamp") -> Path:
    lines = [header] + [f"{u},{i},{4.0 if w else 1.0},{int(t)}" for u, i, w, t in cluster_records()]
    path.write_text("\n".join(lines) + "\n")
    return path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["recs", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, " ".join(result.output.split())


def test_train_then_recommend_excludes_each_users_training_items(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "train.csv")
    code, out = run("train", "--interactions", str(data), "--model", str(tmp_path / "m"))
    assert code == 0, out
    (tmp_path / "users.txt").write_text("user\nhorror-fan-1\nsomeone-new\n")
    code, out = run(
        "recommend", "--model", str(tmp_path / "m"), "--users", str(tmp_path / "users.txt"),
        "--k", "4", "--out", str(tmp_path / "recs.jsonl"),
    )  # fmt: skip
    assert code == 0, out
    lines = [json.loads(line) for line in (tmp_path / "recs.jsonl").read_text().splitlines()]
    assert [line["user"] for line in lines] == ["horror-fan-1", "someone-new"]
    seen = {i for u, i, _, _ in cluster_records() if u == "horror-fan-1"}
    assert len(lines[0]["items"]) == 4 and not set(lines[0]["items"]) & seen
    assert set(lines[0]["items"]) <= set(title_ids("horror"))
    assert len(lines[1]["items"]) == 4


def test_evaluate_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "ml.csv", header="userId,movieId,rating,timestamp")
    code, out = run(
        "evaluate", "--interactions", str(data), "--no-tune", "--json", str(tmp_path / "r.json"),
        "--markdown", str(tmp_path / "r.md"),
    )  # fmt: skip
    assert code == 0, out
    assert "NDCG@10" in out and "recency-ease" in out and "item-knn" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert [r["model"] for r in report["results"]] == [
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
    assert "| **recency-ease** |" in (tmp_path / "r.md").read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("user,item,rating\na,b,1\n", "missing column 'timestamp'"),
        ("user,item,rating,timestamp\n", "no interactions"),
        ("user,item,rating,timestamp\na,b,great,1\n", "line 2: rating 'great' is not a number"),
        ("user,item,rating,timestamp\na,b,1,yesterday\n", "timestamp 'yesterday'"),
        ("user,item,rating,timestamp\na,b\n", "line 2: expected 4 fields"),
        ("user,item,rating,timestamp\n,b,1,1\n", "must not be empty"),
    ],
)
def test_bad_interactions_files_are_explained(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    for command in (["train", "--model", str(tmp_path / "m")], ["evaluate"]):
        code, out = run(*command, "--interactions", str(bad))
        assert code == 2 and message in " ".join(out.split()), out
        assert "Traceback" not in out


def test_unreadable_paths_are_explained(tmp_path: Path) -> None:
    code, out = run("train", "--interactions", str(tmp_path / "missing.csv"), "--model", "m")
    assert code == 2 and "cannot read" in out
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 50)
    code, out = run("evaluate", "--interactions", str(binary))
    assert code == 2 and "not a readable CSV" in out
    code, out = run(
        "recommend", "--model", str(tmp_path / "nomodel"), "--users", str(binary),
        "--out", str(tmp_path / "o.jsonl"),
    )  # fmt: skip
    assert code == 2 and "not a model directory" in out


def test_string_ids_are_fine(tmp_path: Path) -> None:
    data = tmp_path / "s.csv"
    data.write_text(
        "user,item,rating,timestamp\n"
        "ana,tt001,5,2024-01-01T10:00:00\nana,tt002,4,2024-01-02T10:00:00\n"
        "bo,tt001,3,2024-01-01T09:00:00\nbo,tt003,5,2024-01-03T10:00:00\n"
    )
    code, out = run("train", "--interactions", str(data), "--model", str(tmp_path / "m"))
    assert code == 0, out
    (tmp_path / "u.txt").write_text("ana\n")
    code, out = run(
        "recommend", "--model", str(tmp_path / "m"), "--users", str(tmp_path / "u.txt"),
        "--out", str(tmp_path / "o.jsonl"),
    )  # fmt: skip
    assert code == 0, out
    assert json.loads((tmp_path / "o.jsonl").read_text())["items"] == ["tt003"]
