"""`cinemesh ingest FILE --title ID`: upload a source video through the gateway, follow its
encode, return when the asset is ready. (The demo videos of first-run seeding are uploaded by
`cinemesh.demo.upload`, whose multipart body this command streams too.)"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from cinemesh.cli.control import DataDirOption, layout_for, running_state
from cinemesh.demo.upload import Multipart, error_text
from cinemesh.runner.layout import Layout

console = Console()
POLL_S = 1.0


def register(app: typer.Typer) -> None:
    app.command()(ingest)


class IngestFailed(Exception):
    """The upload or the encode failed; the message says why."""


# --- the command ---------------------------------------------------------------------------
def ingest(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    title: str = typer.Option(..., "--title", help="The catalog title the video belongs to."),
    episode: str | None = typer.Option(None, "--episode", help="An episode of that title."),
    token: str | None = typer.Option(
        None, "--token", envvar="CINEMESH_TOKEN", help="An admin access token."
    ),
    email: str | None = typer.Option(None, "--email", help="Sign in as this admin instead."),
    password: str | None = typer.Option(
        None, "--password", envvar="CINEMESH_PASSWORD", help="The admin's password."
    ),
    gateway: str | None = typer.Option(
        None, "--gateway", help="The gateway URL (default: the running local platform's)."
    ),
    timeout_s: float = typer.Option(6 * 3600, "--timeout", help="Give up after this long."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Upload FILE for a title, show the upload and the encode, return when it plays."""
    base = gateway or _local_gateway(layout_for(data_dir))
    session = AdminSession(base, token=token, email=email, password=password)
    try:
        job = upload_with_progress(session, file, title_id=title, episode_id=episode)
        done = follow_job(session, job["job_id"], timeout_s=timeout_s)
    except IngestFailed as exc:
        console.print(f"[red]ingest failed: {exc}[/red]")
        raise typer.Exit(1) from None
    except httpx.HTTPError as exc:
        console.print(f"[red]the gateway did not answer: {exc}[/red]")
        raise typer.Exit(1) from None
    _print_ladder(done)
    console.print(f"[green]asset {done['asset_id']} is ready[/green] for title {title}")


def _local_gateway(layout: Layout) -> str:
    state = running_state(layout)
    if state is None:
        console.print(
            f"[red]cinemesh is not running from {layout.data_dir}; start it (`cinemesh up`) "
            "or pass --gateway[/red]"
        )
        raise typer.Exit(1)
    return str(state["gateway_url"])


class AdminSession:
    """Requests to the gateway as an admin; signs in again when a token expires mid-encode."""

    def __init__(
        self, base: str, *, token: str | None, email: str | None, password: str | None
    ) -> None:
        self.base = base.rstrip("/")
        self.email, self.password = email, password
        self.token = token
        if not token and not (email and password):
            raise typer.BadParameter(
                "give an admin token (--token or CINEMESH_TOKEN) or --email and --password"
            )
        if not token:
            self.sign_in()

    def sign_in(self) -> None:
        if not (self.email and self.password):
            raise IngestFailed("the access token was refused; pass a fresh --token")
        answer = httpx.post(
            f"{self.base}/api/v1/auth/login",
            json={"email": self.email, "password": self.password},
            timeout=30,
        )
        if answer.status_code != 200:
            raise IngestFailed(f"sign-in failed ({error_text(answer)})")
        self.token = str(answer.json()["access_token"])

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str) -> httpx.Response:
        answer = httpx.get(f"{self.base}{path}", headers=self.headers, timeout=30)
        if answer.status_code == 401 and self.email:
            self.sign_in()
            answer = httpx.get(f"{self.base}{path}", headers=self.headers, timeout=30)
        return answer


def upload_with_progress(
    session: AdminSession, file: Path, *, title_id: str, episode_id: str | None
) -> dict[str, Any]:
    body = Multipart(file)
    params = {"episode_id": episode_id} if episode_id else None
    with _bar(transfer=True) as bar:
        task = bar.add_task(f"uploading {file.name}", total=file.stat().st_size)
        answer = httpx.post(
            f"{session.base}/api/v1/admin/titles/{title_id}/media",
            content=body.chunks(lambda n: bar.advance(task, n)),
            params=params,
            headers={
                **session.headers,
                "Content-Type": body.content_type,
                "Content-Length": str(body.length),
            },
            timeout=httpx.Timeout(60.0, read=600.0),
        )
    if answer.status_code != 202:
        raise IngestFailed(error_text(answer))
    job: dict[str, Any] = answer.json()
    return job


def follow_job(session: AdminSession, job_id: str, *, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    with _bar(transfer=False) as bar:
        task = bar.add_task("queued", total=100)
        while True:
            answer = session.get(f"/api/v1/admin/jobs/{job_id}")
            if answer.status_code != 200:
                raise IngestFailed(error_text(answer))
            job: dict[str, Any] = answer.json()
            bar.update(task, completed=job["percent"], description=job["state"])
            if job["state"] == "failed":
                raise IngestFailed(f"the encode failed: {job.get('error') or 'unknown reason'}")
            if job["state"] == "ready":
                return job
            if time.monotonic() > deadline:
                raise IngestFailed(f"the encode did not finish in {timeout_s:.0f}s (job {job_id})")
            time.sleep(POLL_S)


def _bar(*, transfer: bool) -> Progress:
    columns: list[Any] = [TextColumn("{task.description:<12}"), BarColumn()]
    if transfer:
        columns += [DownloadColumn(), TransferSpeedColumn()]
    else:
        columns += [TaskProgressColumn()]
    return Progress(*columns, TimeRemainingColumn(), console=console, transient=False)


def _print_ladder(job: dict[str, Any]) -> None:
    result = job.get("result") or {}
    ladder = result.get("ladder") or {}
    table = Table("rung", "VMAF", "kept", "peak kbit/s", "why", title="per-title ladder")
    rates = {r["name"]: r["bandwidth"] for r in result.get("renditions", [])}
    for d in ladder.get("decisions", []):
        peak = rates.get(d["name"])
        table.add_row(
            d["name"],
            f"{d['vmaf']:.1f}",
            "yes" if d["kept"] else "no",
            f"{peak / 1000:.0f}" if peak else "-",
            d["reason"],
        )
    console.print(table)
