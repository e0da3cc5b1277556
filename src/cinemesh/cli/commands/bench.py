"""`cinemesh bench`: run the benchmark suite and publish its results."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import typer
from rich.console import Console

from cinemesh.benchsuite.suite import available, run_suite

console = Console()


def register(app: typer.Typer) -> None:
    app.command(name="bench")(bench)


def bench(
    names: list[str] = typer.Argument(None, help="Benchmarks to run (default: all)."),
    quick: bool = typer.Option(False, "--quick", help="The short version (under 10 minutes)."),
    tiny: bool = typer.Option(False, "--tiny", help="A smoke run that only proves each runs."),
    out: Path = typer.Option(Path("bench/results"), help="Where results go."),
    repo: Path = typer.Option(Path("."), help="The cinemesh checkout holding bench/."),
    timeout: float = typer.Option(900.0, help="Seconds one benchmark may take."),
    list_only: bool = typer.Option(False, "--list", help="List the benchmarks and stop."),
    jobs: int = typer.Option(1, help="Benchmarks run at once (only with --tiny)."),
) -> None:
    """Run each benchmark beside its baseline; write JSON, a markdown table and PNG plots."""
    repo = repo.resolve()
    if list_only:
        console.print("\n".join(available(repo)))
        return
    mode = "tiny" if tiny else "quick" if quick else "full"
    started = time.monotonic()
    with console.status("starting") as status:
        stop = threading.Event()
        current = ["starting"]

        def tick() -> None:
            while not stop.wait(1.0):
                status.update(f"{current[0]}  ({time.monotonic() - started:.0f}s)")

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()

        def progress(message: str) -> None:
            current[0] = message
            console.print(message)

        try:
            results, files = run_suite(
                repo,
                list(names or []),
                mode=mode,
                out=out,
                progress=progress,
                timeout_s=timeout,
                jobs=jobs,
            )
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        finally:
            stop.set()
    failed = [n for n, body in results["benchmarks"].items() if "error" in body]
    console.print(files[1].read_text())
    console.print("wrote " + ", ".join(str(f) for f in files))
    if failed:
        console.print(f"[red]failed: {', '.join(failed)}[/red]")
        raise typer.Exit(1)
