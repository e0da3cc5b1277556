"""Talking to a running local platform: its state file and the supervisor's control API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import typer

from cinemesh.runner.client import auth_headers
from cinemesh.runner.layout import Layout, default_data_dir

DataDirOption = typer.Option(
    None,
    "--data-dir",
    help="Where the platform keeps its data (default: $CINEMESH_DATA_DIR or ./.cinemesh)",
)


def layout_for(data_dir: Path | None) -> Layout:
    return Layout((data_dir or default_data_dir()).resolve())


def running_state(layout: Layout) -> dict[str, Any] | None:
    from cinemesh.runner.processes import pid_alive

    state = layout.read_state()
    if state and pid_alive(int(state.get("pid", 0))):
        return state
    return None


def require_running(layout: Layout) -> dict[str, Any]:
    state = running_state(layout)
    if state is None:
        typer.secho(
            f"cinemesh is not running from {layout.data_dir}; start it with "
            "`cinemesh up` (or pass --data-dir)",
            fg="red",
            err=True,
        )
        raise typer.Exit(1)
    return state


def control(layout: Layout, method: str, path: str, **kwargs: Any) -> Any:
    state = require_running(layout)
    try:
        response = httpx.request(
            method, state["control_url"] + path, headers=auth_headers(layout), timeout=30, **kwargs
        )
    except httpx.HTTPError as exc:
        typer.secho(f"the supervisor did not answer: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        typer.secho(f"the supervisor refused: {response.text}", fg="red", err=True)
        raise typer.Exit(1)
    return response.json()


def refusal(response: httpx.Response, *, longest: int = 300) -> str:
    """A service's error answer as `CODE: message`, or the start of its body if it has none."""
    try:
        error = response.json()["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return response.text[:longest]
