"""`cinemesh users`: account administration from the shell."""

from __future__ import annotations

from pathlib import Path

import httpx
import typer
from rich.console import Console

from cinemesh.cli.control import DataDirOption, control, layout_for, refusal
from cinemesh.runner.client import auth_headers

console = Console()
users = typer.Typer(help="Manage accounts.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(users, name="users")


@users.command("create-admin")
def create_admin(
    email: str = typer.Option(..., "--email", help="The admin's email."),
    password: str = typer.Option(
        ..., "--password", help="At least 10 characters, letters and digits."
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Create an admin account (or promote an existing one with the same password)."""
    layout = layout_for(data_dir)
    instances = [
        i
        for i in control(layout, "GET", "/status")["instances"]
        if i["service"] == "identity" and i["healthy"]
    ]
    if not instances:
        console.print(
            "[red]identity is not running; start cinemesh (`cinemesh up`) and retry[/red]"
        )
        raise typer.Exit(1)
    url = f"http://127.0.0.1:{instances[0]['port']}/v1/admins"
    try:
        response = httpx.post(
            url,
            json={"email": email, "password": password},
            headers=auth_headers(layout),
            timeout=30,
        )
    except httpx.HTTPError as exc:
        console.print(f"[red]identity did not answer: {exc}[/red]")
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        console.print(f"[red]could not create the admin: {refusal(response)}[/red]")
        raise typer.Exit(1)
    console.print(f"admin {response.json()['email']} is ready (id {response.json()['id']})")
