"""`cinemesh deploy`, `rollback`, `releases`: ship one service's new version while the rest
of the platform runs (releases are git revisions of this repository; runner/releases.py)."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

import cinemesh
from cinemesh.cli.control import DataDirOption, control, layout_for
from cinemesh.runner.contract_gate import ContractError, breaking_changes, snapshot
from cinemesh.runner.layout import Layout
from cinemesh.runner.pact_gate import pact_breaks
from cinemesh.runner.releases import (
    ReleaseBook,
    ReleaseError,
    build_release,
    check_expand_only,
)

console = Console()
PLATFORM_SRC = Path(cinemesh.__file__).resolve().parents[1]
DEPLOY_NICENESS = 10


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)
    app.command("rollback")(rollback)
    app.command("releases")(releases)


def deploy(
    service: str = typer.Argument(..., help="The service to update, e.g. recommender."),
    ref: str = typer.Option(..., "--ref", help="A git revision of this repository."),
    strategy: str = typer.Option("rolling", "--strategy", help="rolling or canary"),
    weight: float = typer.Option(10.0, "--weight", min=1, max=50, help="canary: % of calls"),
    duration: float = typer.Option(120.0, "--duration", min=10, help="canary: seconds judged"),
    allow_breaking: bool = typer.Option(
        False, "--allow-breaking", help="Deploy even if the contract gate finds breaking changes."
    ),
    repo: Path | None = typer.Option(
        None, "--repo", help="The clone to take REF from (default: the one cinemesh runs from)."
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Replace SERVICE's instances with the code of REF, one at a time, with no downtime."""
    yield_to_the_platform()
    layout = layout_for(data_dir)
    current = _current_release(layout, service)
    try:
        console.print(f"building a release of [bold]{service}[/bold] from {ref} ...")
        release = build_release(layout, ref, repo=repo)
        running_src = Path(current.get("src") or PLATFORM_SRC)
        check_expand_only(service, running_src, Path(release.src))
        console.print("comparing its API and event contracts with the running release ...")
        breaks = breaking_changes(
            service, snapshot(service, str(running_src)), snapshot(service, release.src)
        )
        console.print(
            "checking the gateway's pacts against the revisions they were verified on ..."
        )
        breaks += pact_breaks(
            service,
            release_tree=Path(release.src).parent,
            running_tree=lambda name: _running_tree(layout, name),
        )
    except (ReleaseError, ContractError) as refused:
        console.print(f"[red]deploy refused:[/red] {refused}")
        raise typer.Exit(2) from None
    if breaks:
        console.print(f"[{'yellow' if allow_breaking else 'red'}]breaking changes:[/]")
        for line in breaks:
            console.print(f"  - {line}", markup=False, highlight=False)
        if not allow_breaking:
            console.print(
                "deploy refused; fix them, or pass --allow-breaking if every caller moved"
            )
            raise typer.Exit(2)
    if strategy not in ("rolling", "canary"):
        console.print(f"[red]no strategy {strategy!r}[/red]: use rolling or canary")
        raise typer.Exit(2)
    canary = {"weight": weight, "duration_s": duration}
    _ship(layout, service, release.view(), strategy, canary)


def yield_to_the_platform() -> None:
    """Build and check the release at a lower CPU priority (its child processes too): on a
    machine the platform shares, the members' requests go first and the deploy waits."""
    with contextlib.suppress(OSError):
        os.nice(DEPLOY_NICENESS)


def rollback(
    service: str = typer.Argument(..., help="The service to return to its previous release."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Return SERVICE to the release it ran before the current one."""
    layout = layout_for(data_dir)
    previous = ReleaseBook(layout).previous(service)
    if previous is None:
        console.print(
            f"[red]{service} has no earlier release to return to[/red] (`cinemesh releases {service}`)"
        )
        raise typer.Exit(1)
    _ship(layout, service, previous, "rolling")


def releases(
    service: str = typer.Argument(...),
    data_dir: Path | None = DataDirOption,
) -> None:
    """The releases SERVICE has run, oldest first, and what became of each deploy."""
    history = ReleaseBook(layout_for(data_dir)).history(service)
    if not history:
        console.print(f"{service} has run only the release `cinemesh up` started with")
        return
    table = Table("release", "ref", "outcome", "when", "note")
    for entry in history:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.get("deployed_at", 0)))
        table.add_row(
            entry["name"],
            entry.get("ref", ""),
            entry.get("outcome", ""),
            when,
            entry.get("reason", ""),
        )
    console.print(table)


def _running_tree(layout: Layout, service: str) -> Path:
    """The checkout of the revision SERVICE runs: its last promoted release's worktree, or
    this one for a service never deployed (`cinemesh up` started it from here)."""
    promoted = [e for e in ReleaseBook(layout).history(service) if e.get("outcome") == "promoted"]
    src = str(promoted[-1].get("src") or "") if promoted else ""
    return Path(src or PLATFORM_SRC).parent


def _current_release(layout: Layout, service: str) -> dict[str, Any]:
    """The release SERVICE runs now; on its first deploy, the one `cinemesh up` started."""
    book = ReleaseBook(layout)
    promoted = [e for e in book.history(service) if e.get("outcome") == "promoted"]
    if promoted:
        return promoted[-1]
    instances = [
        i for i in control(layout, "GET", "/status")["instances"] if i["service"] == service
    ]
    if not instances:
        console.print(f"[red]no service called {service!r} runs here[/red] (`cinemesh status`)")
        raise typer.Exit(2)
    started = {
        "name": instances[0].get("version") or "started",
        "ref": "(cinemesh up)",
        "commit": "",
        "src": "",
        "outcome": "promoted",
        "deployed_at": time.time(),
    }
    book.record(service, started)
    return started


def _ship(
    layout: Layout,
    service: str,
    release: dict[str, Any],
    strategy: str,
    canary: dict[str, float] | None = None,
) -> None:
    began = time.monotonic()
    body = {"service": service, "release": release, "strategy": strategy, **(canary or {})}
    control(layout, "POST", "/deploy", json=body)
    with Live(console=console, refresh_per_second=4) as live:
        while True:
            progress = control(layout, "GET", "/deploys")[service]
            live.update(_progress_table(progress))
            if progress["verdict"]:
                break
            time.sleep(0.5)
    entry = {
        **release,
        "outcome": progress["verdict"],
        "reason": progress["reason"],
        "deployed_at": time.time(),
    }
    ReleaseBook(layout).record(service, entry)
    took = time.monotonic() - began
    if progress["verdict"] != "promoted":
        console.print(f"[red]{service} {release['name']} rolled back[/red]: {progress['reason']}")
        raise typer.Exit(1)
    console.print(
        f"[green]{service} runs {release['name']} on every instance[/green] ({took:.1f}s)"
    )


def _progress_table(progress: dict[str, Any]) -> Table:
    table = Table("service", "release", "strategy", "replaced", "phase", "elapsed")
    table.add_row(
        progress["service"],
        progress["release"],
        progress["strategy"],
        f"{progress['replaced']}/{progress['total']}",
        progress["verdict"] or progress["phase"],
        f"{progress['elapsed_s']}s",
    )
    seen = progress.get("analysis") or {}
    if seen:
        table.add_row(
            "canary",
            f"{seen['canary_errors']:.1%} errors",
            f"{seen['canary_latency_ms']:.0f} ms",
            f"{seen['intervals']} intervals",
            f"baseline {seen['baseline_errors']:.1%}, {seen['baseline_latency_ms']:.0f} ms",
            "",
        )
    return table
