"""`cinemesh experiments`: A/B tests on the running local platform (the experiments service's
API, with the platform's service credential)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from cinemesh.cli.control import DataDirOption, control, layout_for, refusal
from cinemesh.runner.client import auth_headers

console = Console()
experiments = typer.Typer(
    help="A/B experiments: define, start, stop, report.", no_args_is_help=True
)
CellOption = typer.Option(
    ...,
    "--cell",
    help="NAME[:WEIGHT][:KEY=VALUE,...], once per cell; e.g. "
    "--cell control --cell seq:1:recommender.model=seq-ease",
)


def register(app: typer.Typer) -> None:
    app.add_typer(experiments, name="experiments")


def parse_cell(spec: str) -> dict[str, Any]:
    """`name[:weight][:key=value,...]` as the API's cell."""
    name, _, rest = spec.partition(":")
    weight_text, _, treatments_text = rest.partition(":")
    try:
        weight = float(weight_text) if weight_text else 1.0
    except ValueError:
        raise typer.BadParameter(f"{spec!r}: the weight {weight_text!r} is not a number") from None
    treatments = {}
    for pair in filter(None, treatments_text.split(",")):
        key, sep, value = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"{spec!r}: {pair!r} is not KEY=VALUE")
        treatments[key] = value
    return {"name": name, "weight": weight, "treatments": treatments}


def ask(data_dir: Path | None, method: str, path: str, **kwargs: Any) -> Any:
    """Call one healthy experiments instance; a refusal is printed with its reason."""
    layout = layout_for(data_dir)
    running = [
        i
        for i in control(layout, "GET", "/status")["instances"]
        if i["service"] == "experiments" and i["healthy"]
    ]
    if not running:
        console.print("[red]experiments is not running; start cinemesh (`cinemesh up`)[/red]")
        raise typer.Exit(1)
    url = f"http://127.0.0.1:{running[0]['port']}/v1{path}"
    try:
        response = httpx.request(method, url, headers=auth_headers(layout), timeout=60, **kwargs)
    except httpx.HTTPError as exc:
        console.print(f"experiments did not answer: {exc}", style="red", markup=False)
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        reason = refusal(response, longest=500)
        console.print(
            f"refused ({response.status_code}) {reason}", style="red", markup=False, soft_wrap=True
        )
        raise typer.Exit(1)
    return response.json()


def say(text: str) -> None:
    """Plain text: names may hold what rich would read as markup."""
    console.print(text, markup=False, soft_wrap=True)


def describe(experiment: dict[str, Any]) -> str:
    cells = ", ".join(
        f"{c['name']} ({c['weight']:g}{'; ' if c['treatments'] else ''}"
        + ",".join(f"{k}={v}" for k, v in c["treatments"].items())
        + ")"
        for c in experiment["cells"]
    )
    return (
        f"{experiment['name']} [{experiment['status']}] layer {experiment['layer']}, "
        f"{experiment['traffic']:.0%} of its profiles; cells: {cells}; control {experiment['control']}"
    )


@experiments.command("create")
def create(
    name: str = typer.Argument(..., help="lowercase letters, digits, . _ -"),
    cells: list[str] = CellOption,
    layer: str = typer.Option(..., "--layer", help="experiments of a layer never share a profile"),
    traffic: float = typer.Option(1.0, "--traffic", help="share of the layer's profiles, 0-1"),
    control_cell: str | None = typer.Option(None, "--control", help="default: the first cell"),
    description: str = typer.Option("", "--description"),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Define an experiment (a draft: nobody is allocated until it starts)."""
    body = {
        "name": name,
        "layer": layer,
        "traffic": traffic,
        "cells": [parse_cell(c) for c in cells],
        "control": control_cell,
        "description": description,
    }
    say("created " + describe(ask(data_dir, "POST", "/experiments", json=body)))


@experiments.command("start")
def start(name: str, data_dir: Path | None = DataDirOption) -> None:
    """Start allocating profiles to the experiment's cells."""
    say("started " + describe(ask(data_dir, "POST", f"/experiments/{name}/start")))


@experiments.command("stop")
def stop(name: str, data_dir: Path | None = DataDirOption) -> None:
    """Stop it: everyone gets control again; the report keeps what was measured."""
    say("stopped " + describe(ask(data_dir, "POST", f"/experiments/{name}/stop")))


@experiments.command("list")
def list_all(data_dir: Path | None = DataDirOption) -> None:
    """Every experiment, its status and cells."""
    for experiment in ask(data_dir, "GET", "/experiments"):
        say(describe(experiment))


def _number(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


@experiments.command("report")
def report(
    name: str,
    as_json: Path | None = typer.Option(None, "--json", help="also write the report here"),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Each metric per cell against control: difference, 95% CI, p-value; SRM warnings."""
    body = ask(data_dir, "GET", f"/experiments/{name}/report")
    if as_json is not None:
        as_json.write_text(json.dumps(body, indent=2))
    say(describe(body["experiment"]))
    say(f"members exposed per cell: {body['members']}; test: {body['test']}")
    table = Table("metric", "cell", "members", "mean", "difference", "95% CI", "p", "lift")
    for metric in body["metrics"]:
        label = metric["name"] + (" (guardrail)" if metric["guardrail"] else "")
        for cell, c in metric["cells"].items():
            ci = c.get("ci")
            table.add_row(
                label,
                cell + (" (control)" if cell == body["control"] else ""),
                str(c["members"]),
                _number(c["mean"]),
                _number(c.get("difference")),
                "-" if not ci else f"[{_number(ci[0])}, {_number(ci[1])}]",
                _number(c.get("p_value"), 3),
                "-" if c.get("lift") is None else f"{c['lift']:+.1%}",
            )
            label = ""
    console.print(table)
    for warning in body["warnings"]:
        console.print(f"warning: {warning}", style="red", markup=False, soft_wrap=True)
