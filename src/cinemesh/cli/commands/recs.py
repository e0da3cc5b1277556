"""`cinemesh recs`: train, recommend and evaluate offline, for anyone's evaluation harness.

Input is a CSV with a header `user,item,rating,timestamp` (MovieLens' `userId,movieId,rating,
timestamp` works as is). Ids are strings. Every rating counts as a watch (implicit feedback);
see `cinemesh.services.recommender.dataset`. The protocol of `evaluate` is described in
`cinemesh.services.recommender.evaluation` and docs/recommender.md.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from cinemesh.services.recommender.public import (
    OURS,
    DatasetError,
    Interactions,
    ItemModel,
    ModelFileError,
    ModelParams,
    Report,
    evaluate,
    read_csv,
)

recs = typer.Typer(
    help="Recommendations offline: train, recommend, evaluate.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(recs, name="recs")


def fail(message: str) -> None:
    err.print(f"[red]cinemesh recs: {message}[/red]", highlight=False)
    raise typer.Exit(2)


def load(path: Path) -> Interactions:
    try:
        return read_csv(path)
    except DatasetError as exc:
        fail(str(exc))
        raise  # unreachable: fail exits


@recs.command()
def train(
    interactions: Path = typer.Option(..., help="CSV: user,item,rating,timestamp."),
    model: Path = typer.Option(..., help="Folder to write the model into."),
    lam: float = typer.Option(ModelParams.lam, help="EASE's L2 weight."),
    half_life: float = typer.Option(ModelParams.half_life, help="Recency half-life, in items."),
    neighbours: int = typer.Option(ModelParams.neighbours, help="Neighbours kept per item."),
) -> None:
    """Fit the recommender on every interaction and save it (with the training histories)."""
    if lam <= 0 or half_life < 0 or neighbours < 1:
        fail("--lam must be > 0, --half-life >= 0 and --neighbours >= 1")
    data = load(interactions)
    fitted = ItemModel.fit(data, ModelParams(lam, half_life, neighbours))
    try:
        fitted.save(model)
        np.savez(
            model / "history.npz",
            users=data.users,
            items=data.items,
            weights=data.weights,
            timestamps=data.timestamps,
        )
        (model / "users.json").write_text(json.dumps(data.user_ids))
    except OSError as exc:
        fail(f"cannot write the model to {model}: {exc.strerror or exc}")
    console.print(
        f"trained on {len(data)} interactions ({len(data.user_ids)} users, "
        f"{len(data.item_ids)} items) -> {model}"
    )


def _histories(model_dir: Path, item_ids: list[str]) -> dict[str, list[tuple[str, float]]]:
    """Each training user's items, newest first, with their weights."""
    try:
        user_ids = json.loads((model_dir / "users.json").read_text())
        with np.load(model_dir / "history.npz", allow_pickle=False) as saved:
            data = Interactions(
                user_ids,
                item_ids,
                saved["users"],
                saved["items"],
                saved["weights"],
                saved["timestamps"],
            )
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{model_dir} has no readable training histories: {exc}") from None
    order = np.lexsort((data.items, -data.timestamps, data.users))
    found: dict[str, list[tuple[str, float]]] = {}
    for row in order:
        found.setdefault(user_ids[data.users[row]], []).append(
            (item_ids[data.items[row]], float(data.weights[row]))
        )
    return found


def _read_users(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}")
    users = [line.split(",")[0].strip() for line in lines if line.strip()]
    if users and users[0].lower() in ("user", "userid", "user_id"):
        users = users[1:]
    if not users:
        fail(f"{path} names no users (one user id a line)")
    return users


@recs.command()
def recommend(
    model: Path = typer.Option(..., help="A folder written by `recs train`."),
    users: Path = typer.Option(..., help="One user id a line (a `user` header is skipped)."),
    k: int = typer.Option(10, help="Items per user.", min=1, max=1000),
    out: Path = typer.Option(..., help='JSON lines: {"user": ..., "items": [...]}.'),
) -> None:
    """Top k items per user, their training items excluded; unknown users get popular items."""
    try:
        fitted = ItemModel.load(model)
        histories = _histories(model, fitted.item_ids)
    except ModelFileError as exc:
        fail(str(exc))
    wanted = _read_users(users)
    try:
        with out.open("w", encoding="utf-8") as sink:
            for user in wanted:
                history = histories.get(user, [])
                picks = fitted.picks(history, k=k, exclude={item for item, _ in history})
                sink.write(json.dumps({"user": user, "items": [p.item for p in picks]}) + "\n")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    known = sum(1 for u in wanted if u in histories)
    console.print(f"{len(wanted)} users ({known} known) -> {out}")


@recs.command("evaluate")
def evaluate_command(
    interactions: Path = typer.Option(..., help="CSV: user,item,rating,timestamp (or MovieLens)."),
    test_fraction: float = typer.Option(0.2, help="Each user's latest share held out."),
    tune: bool = typer.Option(True, help="Choose hyperparameters on a validation split."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the report as JSON."),
    markdown: Path | None = typer.Option(None, help="Also write the table as Markdown."),
) -> None:
    """Compare popularity, item-kNN (cosine), EASE and ours with one temporal-split protocol."""
    if not 0 < test_fraction < 1:
        fail("--test-fraction must be between 0 and 1")
    data = load(interactions)
    if len(data.user_ids) < 2 or len(data.item_ids) < 2:
        fail(f"{interactions} has too few users or items to evaluate")
    report = evaluate(
        data, test_fraction=test_fraction, tuned=tune, log=lambda m: err.print(f"[dim]{m}[/dim]")
    )
    table = Table(title=f"{interactions.name}: {report.protocol['split']}")
    for column in ("model", "NDCG@10", "Recall@20", "HR@10", "fit s", "params"):
        table.add_column(column)
    for result in report.results:
        m = result.metrics
        style = "bold green" if result.model == OURS else None
        table.add_row(
            result.model,
            f"{m.ndcg_at_10:.4f}",
            f"{m.recall_at_20:.4f}",
            f"{m.hr_at_10:.4f}",
            f"{result.fit_s:.2f}",
            ", ".join(f"{k}={v}" for k, v in result.params.items()),
            style=style,
        )
    console.print(table)
    try:
        if json_out is not None:
            json_out.write_text(json.dumps(_as_json(report), indent=2))
        if markdown is not None:
            markdown.write_text(_as_markdown(report, interactions.name))
    except OSError as exc:
        fail(f"cannot write the report: {exc.strerror or exc}")


def _as_json(report: Report) -> dict[str, object]:
    return {
        "dataset": report.dataset,
        "protocol": report.protocol,
        "results": [asdict(r) for r in report.results],
        "validation": [asdict(t) for t in report.validation],
    }


def _as_markdown(report: Report, name: str) -> str:
    lines = [
        f"Dataset `{name}`: {report.dataset['users']} users, {report.dataset['items']} items, "
        f"{report.dataset['interactions']} interactions ({report.dataset['train']} train, "
        f"{report.dataset['test']} test). Split: {report.protocol['split']}; "
        f"hyperparameters: {report.protocol['tuning']}.",
        "",
        "| model | NDCG@10 | Recall@20 | HR@10 | fit (s) | parameters |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in report.results:
        m = r.metrics
        params = ", ".join(f"{k}={v}" for k, v in r.params.items()) or "-"
        name_cell = f"**{r.model}**" if r.model == OURS else r.model
        lines.append(
            f"| {name_cell} | {m.ndcg_at_10:.4f} | {m.recall_at_20:.4f} | {m.hr_at_10:.4f} "
            f"| {r.fit_s:.2f} | {params} |"
        )
    return "\n".join(lines) + "\n"
