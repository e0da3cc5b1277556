"""`cinemesh chaos`: break things on purpose (Chaos Monkey) and measure what users feel (ChAP)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from cinemesh.cli.control import DataDirOption, control, layout_for, require_running
from cinemesh.cli.experiments import EXPERIMENTS, run_experiment
from cinemesh.runner.client import auth_headers

console = Console()
chaos = typer.Typer(help="Inject faults into a running local platform.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(chaos, name="chaos")


def _instances(data_dir: Path | None, service: str, instance: int | None) -> list[dict[str, Any]]:
    layout = layout_for(data_dir)
    found = [
        i
        for i in control(layout, "GET", "/status")["instances"]
        if i["service"] == service and (instance is None or i["instance"] == instance)
    ]
    if not found:
        console.print(f"[red]no running instance of {service!r}; see `cinemesh status`[/red]")
        raise typer.Exit(1)
    return found


def set_faults(data_dir: Path | None, service: str, instance: int | None, **spec: float) -> None:
    layout = layout_for(data_dir)
    headers = auth_headers(layout)
    for inst in _instances(data_dir, service, instance):
        url = f"http://127.0.0.1:{inst['port']}/internal/faults"
        method = "PUT" if spec else "DELETE"
        try:
            response = httpx.request(method, url, json=spec or None, headers=headers, timeout=5)
        except httpx.HTTPError as exc:
            console.print(f"[yellow]{service}[{inst['instance']}] did not answer: {exc}[/yellow]")
            continue
        if response.status_code >= 400:
            console.print(f"[red]{service}[{inst['instance']}] refused: {response.text}[/red]")
            raise typer.Exit(1)
        console.print(f"{service}[{inst['instance']}]: {response.json()}")


@chaos.command()
def kill(
    service: str,
    instance: int | None = typer.Option(None, "--instance", "-i", help="Only this instance."),
    hold: float = typer.Option(0.0, help="Keep it down this many seconds before restarting."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """kill -9 a service's instances; the supervisor restarts them (after --hold)."""
    layout = layout_for(data_dir)
    result = control(
        layout, "POST", "/kill", json={"service": service, "instance": instance, "hold_s": hold}
    )
    if not result["killed"]:
        console.print(f"[red]no running instance of {service!r} to kill[/red]")
        raise typer.Exit(1)
    console.print(f"killed {service} pids {result['killed']}")


@chaos.command()
def revive(service: str, data_dir: Path | None = DataDirOption) -> None:
    """Start again the instances of SERVICE that a kill --hold keeps down."""
    result = control(layout_for(data_dir), "POST", "/revive", json={"service": service})
    console.print(f"revived {result['revived']} instance(s) of {service}")


@chaos.command()
def latency(
    service: str,
    ms: float = typer.Argument(..., min=0, max=60000),
    instance: int | None = typer.Option(None, "--instance", "-i"),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Add MS milliseconds to every request the service answers."""
    set_faults(data_dir, service, instance, latency_ms=ms)


@chaos.command()
def errors(
    service: str,
    rate: float = typer.Argument(..., min=0, max=1),
    instance: int | None = typer.Option(None, "--instance", "-i"),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Fail RATE (0..1) of the service's requests with 503."""
    set_faults(data_dir, service, instance, error_rate=rate)


@chaos.command()
def abort(
    service: str,
    rate: float = typer.Argument(..., min=0, max=1),
    instance: int | None = typer.Option(None, "--instance", "-i"),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Hang RATE of the service's requests as if the process froze."""
    set_faults(data_dir, service, instance, abort_rate=rate)


@chaos.command()
def reset(
    service: str | None = typer.Argument(None, help="Default: every service."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Clear injected faults."""
    layout = layout_for(data_dir)
    names = sorted({i["service"] for i in control(layout, "GET", "/status")["instances"]})
    for name in [service] if service else names:
        set_faults(data_dir, name, None)


@chaos.command()
def experiment(
    name: str = typer.Argument(..., help=f"One of: {', '.join(EXPERIMENTS)}"),
    seconds: float = typer.Option(10.0, min=2, max=600, help="Length of each period."),
    rate: float = typer.Option(20.0, min=1, max=2000, help="Steady user requests per second."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Steady load, then a fault, then a report of what users saw in each period."""
    if name not in EXPERIMENTS:
        console.print(
            f"[red]unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}[/red]"
        )
        raise typer.Exit(2)
    layout = layout_for(data_dir)
    state = require_running(layout)
    report = asyncio.run(
        run_experiment(
            name,
            layout=layout,
            gateway=state["gateway_url"],
            seconds=seconds,
            rate=rate,
            say=console.print,
        )
    )
    table = Table(
        "period", "requests", "errors", "error rate", "p50 ms", "p99 ms", "degraded answers"
    )
    for period in report["periods"]:
        table.add_row(
            period["name"],
            str(period["requests"]),
            str(period["errors"]),
            f"{period['error_rate']:.2%}",
            f"{period['p50_ms']:.1f}",
            f"{period['p99_ms']:.1f}",
            str(period["degraded"]),
        )
    console.print(table)
