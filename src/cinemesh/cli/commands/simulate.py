"""`cinemesh simulate`: simulated members browsing, searching and watching on a running
platform through its public API (cinemesh.demo.simulation), so experiments and telemetry have
data on a fresh platform."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from cinemesh.cli.control import DataDirOption, layout_for, running_state
from cinemesh.demo.simulation import GatewayUnreachable, Options, Simulation, Tally
from cinemesh.demo.tastes import default_movielens

console = Console()


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)


def simulate(
    members: int = typer.Option(200, "--members", min=1, max=5000, help="How many members."),
    minutes: float = typer.Option(
        10.0, "--minutes", min=0.05, max=24 * 60, help="Real minutes to run; then it stops."
    ),
    seed: int = typer.Option(1, "--seed", help="The same seed draws the same tastes and choices."),
    speed: float = typer.Option(
        1.0,
        "--speed",
        min=1.0,
        max=600.0,
        help="Member time per real time: at 10 a member's minute of watching takes 6 s.",
    ),
    concurrency: int = typer.Option(
        32, "--concurrency", min=1, max=512, help="Requests in flight at most."
    ),
    gateway: str | None = typer.Option(
        None, "--gateway", help="The gateway's URL (default: the running local platform's)."
    ),
    movielens: Path | None = typer.Option(
        None,
        "--movielens",
        help="MovieLens folder the tastes are drawn from (default: ../shared/data's, "
        "else the catalog's genres).",
    ),
    tastes: Path | None = typer.Option(
        None, "--tastes", help="Write each member's hidden taste here (JSON lines)."
    ),
    as_json: Path | None = typer.Option(None, "--json", help="Also write the summary here."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Simulated members sign up, browse home, search and watch, each after a hidden taste."""
    state = running_state(layout_for(data_dir))
    url = gateway or (str(state["gateway_url"]) if state else "http://127.0.0.1:8080")
    folder = movielens or default_movielens()
    if tastes is not None:
        tastes.write_bytes(b"")
    options = Options(
        gateway=url,
        members=members,
        minutes=minutes,
        seed=seed,
        speed=speed,
        concurrency=concurrency,
        movielens=folder if folder.exists() else None,
        tastes_out=tastes,
    )
    try:
        tally = asyncio.run(_with_progress(Simulation(options)))
    except GatewayUnreachable as exc:
        console.print(f"cinemesh simulate: {exc}", style="red", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    summary = tally.summary()
    if as_json is not None:
        as_json.write_text(json.dumps(summary, indent=2))
    _print_summary(summary)


async def _with_progress(simulation: Simulation) -> Tally:
    options = simulation.options
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[counts]}"),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(
            f"{options.members} members", total=options.minutes * 60, counts="starting"
        )
        running = asyncio.create_task(simulation.run())
        while not running.done():
            await asyncio.wait({running}, timeout=0.5)
            tally = simulation.tally
            progress.update(
                task, completed=min(options.minutes * 60, _elapsed(tally)), counts=_counts(tally)
            )
        progress.update(task, completed=options.minutes * 60, counts=_counts(simulation.tally))
    if simulation.tastes_from:
        console.print(f"tastes drawn from {simulation.tastes_from}")
    return running.result()


def _elapsed(tally: Tally) -> float:
    return float(tally.summary()["elapsed_s"])


def _counts(tally: Tally) -> str:
    c = tally.counts
    return (
        f"joined {tally.joined}/{tally.members} · home {c['home pages']} · "
        f"searches {c['searches']} · plays {c['plays']} (from home {c['plays from home']}) · "
        f"refused {sum(tally.refusals.values())}"
    )


def _print_summary(summary: dict[str, object]) -> None:
    table = Table("what", "count")
    for key, value in summary.items():
        if key != "refusals":
            table.add_row(key, str(value))
    console.print(table)
    refusals = summary.get("refusals") or {}
    if isinstance(refusals, dict) and refusals:
        console.print(
            "refused or unanswered: " + ", ".join(f"{k}: {v}" for k, v in refusals.items()),
            markup=False,
            soft_wrap=True,
        )
