"""The `cinemesh` command: run the platform locally and operate it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

import orjson
import typer
from rich.console import Console
from rich.table import Table

from cinemesh.cli.commands import (
    bench,
    chaos,
    deploy,
    experiments,
    ingest,
    login,
    recs,
    seed,
    simulate,
    users,
)
from cinemesh.cli.control import (
    DataDirOption,
    control,
    layout_for,
    require_running,
    running_state,
)
from cinemesh.demo.seeding import seed_first_run
from cinemesh.platform.errors import StartupError
from cinemesh.runner.layout import Layout
from cinemesh.runner.processes import is_ours, pid_alive, terminate, wait_gone
from cinemesh.runner.supervisor import Supervisor, UpOptions

app = typer.Typer(
    help="cinemesh: a video streaming platform made of small services.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
MediaStoreKind = Literal["files", "s3"]


@app.command()
def up(
    port: int = typer.Option(8080, help="The gateway's port (the web app and /api/v1)."),
    data_dir: Path | None = DataDirOption,
    detach: bool = typer.Option(False, "--detach", "-d", help="Run in the background."),
    nats_url: str = typer.Option(
        "", envvar="CINEMESH_NATS_URL", help="Use this NATS instead of starting an embedded one."
    ),
    nats_cluster: int = typer.Option(
        1, "--nats-cluster", min=1, max=5, help="Run the embedded NATS as a cluster of N nodes."
    ),
    prometheus: bool = typer.Option(
        False, "--prometheus", help="Also run Prometheus with the SLO alerts (docs/slo.md)."
    ),
    media_store: MediaStoreKind = typer.Option(
        "files", "--media-store", help="files under the data dir, or s3: SeaweedFS as the origin."
    ),
    scale: list[str] = typer.Option([], "--scale", help="SERVICE=N instances at start."),
    only: list[str] = typer.Option([], "--only", help="Start only these services."),
) -> None:
    """Start every service as its own process and supervise them (Ctrl-C stops all)."""
    layout = layout_for(data_dir)
    options = UpOptions(
        data_dir=layout.data_dir,
        port=port,
        nats_url=nats_url,
        nats_nodes=nats_cluster,
        prometheus=prometheus,
        media_store=media_store,
        instances=dict(_parse_scale(s) for s in scale),
        services=list(only),
    )
    if detach:
        _up_detached(layout, sys.argv[1:])
        return
    code = asyncio.run(_run_foreground(options))
    raise typer.Exit(code)


async def _run_foreground(options: UpOptions) -> int:
    supervisor = Supervisor(options)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, supervisor.stopping.set)
    # Ctrl-C or `cinemesh down` while services are still starting stops them now, not after
    # the minute a slow or crash-looping start may take to give up waiting.
    starting = asyncio.create_task(_start(supervisor, options))
    stop_asked = asyncio.create_task(supervisor.stopping.wait())
    await asyncio.wait({starting, stop_asked}, return_when=asyncio.FIRST_COMPLETED)
    if starting.done() and starting.result() != 0:
        stop_asked.cancel()
        return starting.result()
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
    await supervisor.stopping.wait()
    console.print("stopping cinemesh ...")
    await supervisor.stop()
    return 0


async def _start(supervisor: Supervisor, options: UpOptions) -> int:
    """Start every service, wait for them to be healthy, say so, and seed a first run."""
    try:
        await supervisor.start()
    except StartupError as exc:
        console.print(f"[red]cinemesh: {exc}[/red]")
        await supervisor.stop()
        return 2
    healthy = await supervisor.wait_healthy(timeout_s=60)
    _print_status(supervisor.status())
    gateway = f"http://127.0.0.1:{options.port}"
    if healthy:
        console.print(f"[green]cinemesh is up[/green]: {gateway}  (Ctrl-C stops everything)")
    else:
        console.print("[yellow]some services are not healthy yet; `cinemesh logs SERVICE`[/yellow]")
    await _first_run(supervisor, gateway)
    return 0


async def _first_run(supervisor: Supervisor, gateway: str) -> None:
    """Seed a new data dir once (`cinemesh.demo.seeding`)."""
    marker = supervisor.layout.data_dir / ".seeded"
    if marker.exists():
        return
    supervisor.background(seed_first_run(supervisor.layout, gateway, marker))


def _up_detached(layout: Layout, argv: list[str]) -> None:
    if running_state(layout):
        console.print(f"cinemesh is already running from {layout.data_dir}")
        raise typer.Exit(0)
    layout.prepare()
    args = [a for a in argv if a not in ("--detach", "-d")]
    log = open(layout.logs_dir / "supervisor.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "cinemesh", *args],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            console.print(
                f"[red]cinemesh failed to start; see {layout.logs_dir / 'supervisor.log'}[/red]"
            )
            raise typer.Exit(2)
        state = running_state(layout)
        if state:
            instances = control(layout, "GET", "/status")["instances"]
            if instances and all(i["healthy"] for i in instances):
                _print_status(instances)
                console.print(f"[green]cinemesh is up[/green]: {state['gateway_url']}")
                return
        time.sleep(0.5)
    console.print(
        "[yellow]cinemesh started but not every service is healthy yet; "
        "see `cinemesh status`[/yellow]"
    )


@app.command()
def serve(service: str = typer.Argument(..., help="The service to run in this process.")) -> None:
    """Run one instance of SERVICE (what `up` and the container image run)."""
    from cinemesh.platform.serve import serve as serve_service

    serve_service(service)


@app.command()
def status(
    data_dir: Path | None = DataDirOption,
    as_json: bool = typer.Option(False, "--json", help="A JSON list of instances."),
) -> None:
    """Every instance: service, pid, port, health."""
    layout = layout_for(data_dir)
    if running_state(layout) is None:
        if as_json:
            print("[]")
        else:
            console.print(f"cinemesh is not running from {layout.data_dir}")
        raise typer.Exit(1)
    instances = control(layout, "GET", "/status")["instances"]
    if as_json:
        print(orjson.dumps(instances, option=orjson.OPT_INDENT_2).decode())
    else:
        _print_status(instances)


def _print_status(instances: list[dict[str, object]]) -> None:
    table = Table("service", "instance", "version", "pid", "port", "health", "restarts", "uptime")
    for inst in instances:
        health = "[green]healthy[/green]" if inst["healthy"] else "[red]unhealthy[/red]"
        table.add_row(
            str(inst["service"]),
            str(inst["instance"]),
            str(inst.get("version") or "-"),
            str(inst["pid"] or "-"),
            str(inst["port"]),
            health,
            str(inst["restarts"]),
            f"{inst['uptime_s']}s",
        )
    console.print(table)


@app.command()
def down(data_dir: Path | None = DataDirOption) -> None:
    """Stop every process `up` started, none left behind (also after the CLI was killed)."""
    layout = layout_for(data_dir)
    state = running_state(layout)
    if state:
        try:
            control(layout, "POST", "/shutdown")
        except typer.Exit:
            pass
        if not wait_gone(int(state["pid"]), timeout_s=30):
            terminate([int(state["pid"])])
    leftovers = [int(pid) for pid, entry in layout.read_pids().items() if is_ours(int(pid), entry)]
    if leftovers:
        terminate(leftovers)
    stopped = bool(state) or bool(leftovers)
    layout.state_file.unlink(missing_ok=True)
    layout.pids_file.unlink(missing_ok=True)
    console.print("cinemesh stopped" if stopped else "cinemesh was not running")


@app.command()
def scale(
    spec: str = typer.Argument(..., metavar="SERVICE=N"),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Run N instances of SERVICE."""
    service, count = _parse_scale(spec)
    layout = layout_for(data_dir)
    result = control(layout, "POST", "/scale", json={"service": service, "count": count})
    _print_status([i for i in result["instances"] if i["service"] == service])


def _parse_scale(spec: str) -> tuple[str, int]:
    service, _, count = spec.partition("=")
    if not service or not count.isdigit() or not 0 < int(count) <= 32:
        raise typer.BadParameter(f"expected SERVICE=N with N from 1 to 32, got {spec!r}")
    return service, int(count)


@app.command()
def logs(
    service: str,
    instance: int = typer.Option(0, "--instance", "-i"),
    lines: int = typer.Option(50, "--lines", "-n"),
    follow: bool = typer.Option(False, "--follow", "-f"),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Show a service instance's log (JSON lines)."""
    path = layout_for(data_dir).log_file(service, instance)
    if not path.exists():
        console.print(f"[red]no log at {path}[/red]")
        raise typer.Exit(1)
    args = ["tail", "-n", str(lines), *(["-F"] if follow else []), str(path)]
    raise typer.Exit(subprocess.call(args))


# The commands beyond running the platform, each module by name (a new one is added here).
for command in (bench, chaos, deploy, experiments, ingest, login, recs, seed, simulate, users):
    command.register(app)

__all__ = ["app", "pid_alive", "require_running"]
