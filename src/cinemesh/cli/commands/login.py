"""`cinemesh login` and `cinemesh logout`: sign in to a gateway once, from the shell; later
commands (`cinemesh ingest --gateway URL`) use the kept sign-in (cinemesh.cli.sign_in)."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import typer
from rich.console import Console

from cinemesh.cli.control import DataDirOption, layout_for, running_state
from cinemesh.cli.sign_in import CredentialStore, GatewaySession, SignInNeeded

console = Console()
GatewayOption = typer.Option(
    None, "--gateway", help="The gateway URL (default: the running local platform's)."
)


def register(app: typer.Typer) -> None:
    app.command()(login)
    app.command()(logout)


def login(
    gateway: str | None = GatewayOption,
    email: str | None = typer.Option(
        None, "--email", help="The account's email (asked if not given)."
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input (for scripts)."
    ),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Sign in to a gateway once; later commands use and refresh the kept tokens.

    The tokens stay in $XDG_CONFIG_HOME/cinemesh (or ~/.config/cinemesh), readable by you only."""
    base = gateway or _local_gateway(data_dir)
    email = email or typer.prompt("Email")
    password = sys.stdin.readline().rstrip("\n") if password_stdin else _ask_password()
    try:
        session = GatewaySession.sign_in(
            base, email=email, password=password, store=CredentialStore()
        )
        role = _role(session)
    except SignInNeeded as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    except httpx.HTTPError as exc:
        console.print(f"[red]the gateway did not answer: {exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"signed in to {session.base} as {email} ({role})")
    if role != "admin":
        console.print("[yellow]this account is not an admin: `cinemesh ingest` needs one[/yellow]")


def logout(gateway: str | None = GatewayOption, data_dir: Path | None = DataDirOption) -> None:
    """Sign out: revoke the kept refresh token and forget the tokens."""
    base = gateway or _local_gateway(data_dir)
    store = CredentialStore()
    try:
        GatewaySession.saved(base, store=store).log_out()
    except SignInNeeded:
        console.print(f"not signed in to {base}")
        return
    console.print(f"signed out of {base}")


def _ask_password() -> str:
    return str(typer.prompt("Password", hide_input=True))


def _role(session: GatewaySession) -> str:
    answer = session.get("/api/v1/auth/me")
    return str(answer.json().get("role", "member")) if answer.status_code == 200 else "member"


def _local_gateway(data_dir: Path | None) -> str:
    layout = layout_for(data_dir)
    state = running_state(layout)
    if state is None:
        console.print(
            f"[red]cinemesh is not running from {layout.data_dir}; pass --gateway URL[/red]"
        )
        raise typer.Exit(1)
    return str(state["gateway_url"])
