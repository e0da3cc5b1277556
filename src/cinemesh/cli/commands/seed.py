"""`cinemesh seed --demo` and `cinemesh seed --movielens DIR`: load titles into the running
catalog, with a progress bar."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cinemesh.cli.control import DataDirOption, layout_for, require_running
from cinemesh.demo.seeding import (
    SeedingFailed,
    demo_titles,
    movielens_interactions,
    movielens_titles,
    push_titles,
    running_catalog_url,
)
from cinemesh.runner.client import auth_headers
from cinemesh.runner.layout import Layout

console = Console()


def register(app: typer.Typer) -> None:
    app.command()(seed)


def seed(
    demo: bool = typer.Option(False, "--demo", help="The demo catalog (movies and series)."),
    movielens: Path | None = typer.Option(
        None,
        "--movielens",
        help="A MovieLens-format folder: movies.csv into the catalog, ratings.csv kept as "
        "<data dir>/recommender/interactions.csv.",
        exists=True,
        file_okay=False,
        dir_okay=True,
    ),
    catalog_url: str = typer.Option(
        "",
        envvar="CINEMESH_CATALOG_URL",
        help="A catalog instance to load into (default: the local platform's, via its supervisor).",
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Load titles into the running catalog (the same ids again replace, never duplicate)."""
    if not demo and movielens is None:
        raise typer.BadParameter("say what to seed: --demo and/or --movielens DIR")
    if movielens is not None and not (movielens / "movies.csv").is_file():
        raise typer.BadParameter(f"{movielens} has no movies.csv", param_hint="--movielens")
    layout = layout_for(data_dir)
    if not catalog_url:
        require_running(layout)
    try:
        asyncio.run(_seed(layout, demo=demo, movielens=movielens, catalog_url=catalog_url))
    except SeedingFailed as exc:
        console.print(f"[red]seeding failed: {exc}[/red]")
        raise typer.Exit(1) from None


async def _seed(layout: Layout, *, demo: bool, movielens: Path | None, catalog_url: str) -> None:
    async with httpx.AsyncClient(headers=auth_headers(layout)) as http:
        url = catalog_url.rstrip("/") or await running_catalog_url(http, layout, wait_s=30)
        if demo:
            await _load(http, url, "demo catalog", demo_titles())
        if movielens is not None:
            interactions, counts = movielens_interactions(movielens, layout.data_dir)
            titles = list(movielens_titles(movielens, counts))
            await _load(http, url, "MovieLens movies", titles)
            console.print(f"ratings kept for the recommender in {interactions}")


async def _load(http: httpx.AsyncClient, url: str, what: str, titles: list[dict[str, Any]]) -> None:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(what, total=len(titles))
        await push_titles(
            http, url, titles, progress=lambda done, _total: bar.update(task, completed=done)
        )
    console.print(f"[green]{len(titles)} titles loaded[/green] ({what})")
