"""`cinemesh ingest FILE --title ID [--subtitles FILE:LANG[:sdh] ...] [--audio FILE:LANG ...]`:
upload a source video (its subtitle tracks first, extra audio languages added to it), follow
its encode, return when the asset is ready. On the local platform it needs no credentials; a
remote gateway takes the sign-in of `cinemesh login` (or a token or password given on the
command line). (The demo videos of first-run seeding are uploaded by `cinemesh.demo.upload`,
whose multipart body this command streams too.)"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

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

from cinemesh.cli.control import DataDirOption, control, layout_for, running_state
from cinemesh.cli.side_files import (
    SideFileError,
    SubtitleFile,
    audio_file,
    subtitle_file,
    with_audio,
)
from cinemesh.cli.sign_in import CredentialStore, GatewaySession, SignInNeeded
from cinemesh.demo.upload import Multipart, error_text
from cinemesh.runner.client import auth_headers
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
    subtitles: list[str] = typer.Option(
        [],
        "--subtitles",
        help="An SRT or WebVTT file and its language, FILE:LANG[:sdh|forced] (sdh: captions "
        "for the deaf and hard of hearing); repeat for more.",
    ),
    audio: list[str] = typer.Option(
        [],
        "--audio",
        help="One more audio language, FILE:LANG (e.g. film.fr.m4a:fr), added to the video's "
        "own audio; repeat for more.",
    ),
    token: str | None = typer.Option(
        None, "--token", envvar="CINEMESH_TOKEN", help="An admin access token."
    ),
    email: str | None = typer.Option(None, "--email", help="Sign in as this admin instead."),
    password: str | None = typer.Option(
        None, "--password", envvar="CINEMESH_PASSWORD", help="The admin's password."
    ),
    gateway: str | None = typer.Option(
        None,
        "--gateway",
        help="A remote gateway's URL, signed in with `cinemesh login` (default: the running "
        "local platform, which needs no credentials).",
    ),
    timeout_s: float = typer.Option(6 * 3600, "--timeout", help="Give up after this long."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Upload FILE for a title, show the upload and the encode, return when it plays."""
    with tempfile.TemporaryDirectory(prefix="cinemesh-ingest-") as scratch:
        try:
            tracks = [subtitle_file(spec) for spec in subtitles]
            extra = [audio_file(spec) for spec in audio]
            source = with_audio(file, extra, Path(scratch)) if extra else file
        except SideFileError as exc:
            console.print(f"[red]ingest failed: {exc}[/red]")
            raise typer.Exit(2) from None
        try:
            route = choose_route(
                layout_for(data_dir), gateway=gateway, token=token, email=email, password=password
            )
            for track in tracks:
                upload_subtitles(route, track, title_id=title, episode_id=episode)
            job = upload_with_progress(route, source, title_id=title, episode_id=episode)
            done = follow_job(route, job["job_id"], timeout_s=timeout_s)
        except (IngestFailed, SignInNeeded) as exc:
            console.print(f"[red]ingest failed: {exc}[/red]")
            raise typer.Exit(1) from None
        except httpx.HTTPError as exc:
            console.print(f"[red]the platform did not answer: {exc}[/red]")
            raise typer.Exit(1) from None
    _print_ladder(done)
    result = done.get("result") or {}
    for kind in ("audio", "subtitles"):
        for published in result.get(kind, []):
            console.print(f"{kind}: {published['name']} [{published['language']}]", markup=False)
    console.print(f"[green]asset {done['asset_id']} is ready[/green] for title {title}")


def choose_route(
    layout: Layout,
    *,
    gateway: str | None,
    token: str | None,
    email: str | None,
    password: str | None,
) -> Route:
    """A token or a password when given; else the `cinemesh login` of a remote gateway; else
    the local platform, reached with its service credential."""
    if token or email or password:
        base = gateway or _local_gateway(layout)
        if token:
            return ThroughGateway(GatewaySession.with_token(base, token))
        if not (email and password):
            raise typer.BadParameter("give both --email and --password (or run `cinemesh login`)")
        return ThroughGateway(GatewaySession.sign_in(base, email=email, password=password))
    if gateway:
        return ThroughGateway(GatewaySession.saved(gateway, store=CredentialStore()))
    _local_gateway(layout)  # says so when the local platform is not running
    return StraightToEncoder(layout)


def _local_gateway(layout: Layout) -> str:
    state = running_state(layout)
    if state is None:
        console.print(
            f"[red]cinemesh is not running from {layout.data_dir}; start it (`cinemesh up`) "
            "or pass --gateway[/red]"
        )
        raise typer.Exit(1)
    return str(state["gateway_url"])


class Route(Protocol):
    """Where an upload goes and how its encode job is followed."""

    def upload_url(self, title_id: str) -> str: ...

    def subtitles_url(self, title_id: str) -> str: ...

    def headers(self) -> dict[str, str]: ...

    def job(self, job_id: str) -> httpx.Response: ...


@dataclass
class ThroughGateway:
    """The public admin API, as a signed-in admin (the gateway checks the title exists)."""

    session: GatewaySession

    def upload_url(self, title_id: str) -> str:
        return f"{self.session.base}/api/v1/admin/titles/{title_id}/media"

    def subtitles_url(self, title_id: str) -> str:
        return f"{self.session.base}/api/v1/admin/titles/{title_id}/subtitles"

    def headers(self) -> dict[str, str]:
        return self.session.headers()

    def job(self, job_id: str) -> httpx.Response:
        return self.session.get(f"/api/v1/admin/jobs/{job_id}")


@dataclass
class StraightToEncoder:
    """On the local platform, with no credentials: the supervisor's service credential reaches
    catalog and the encoder directly, as first-run seeding does. Only someone who can read
    the data dir holds it, and that person could start the platform anyway."""

    layout: Layout

    def upload_url(self, title_id: str) -> str:
        known = httpx.get(
            f"{self._url('catalog')}/v1/titles/{title_id}", headers=self.headers(), timeout=30
        )
        if known.status_code == 404:
            raise IngestFailed(f"TITLE_NOT_FOUND: there is no title {title_id}")
        return f"{self._url('encoder')}/v1/titles/{title_id}/media"

    def subtitles_url(self, title_id: str) -> str:
        return self.upload_url(title_id).removesuffix("/media") + "/subtitles"

    def headers(self) -> dict[str, str]:
        return auth_headers(self.layout)

    def job(self, job_id: str) -> httpx.Response:
        return httpx.get(
            f"{self._url('encoder')}/v1/jobs/{job_id}", headers=self.headers(), timeout=30
        )

    def _url(self, service: str) -> str:
        """A healthy instance of `service`, asked anew each time (instances come and go)."""
        for instance in control(self.layout, "GET", "/status")["instances"]:
            if instance["service"] == service and instance["healthy"]:
                return f"http://127.0.0.1:{instance['port']}"
        raise IngestFailed(f"no healthy {service} instance on the local platform")


def upload_with_progress(
    route: Route, file: Path, *, title_id: str, episode_id: str | None
) -> dict[str, Any]:
    body = Multipart(file)
    params = {"episode_id": episode_id} if episode_id else None
    url = route.upload_url(title_id)
    with _bar(transfer=True) as bar:
        task = bar.add_task(f"uploading {file.name}", total=file.stat().st_size)
        answer = httpx.post(
            url,
            content=body.chunks(lambda n: bar.advance(task, n)),
            params=params,
            headers={
                **route.headers(),
                "Content-Type": body.content_type,
                "Content-Length": str(body.length),
            },
            timeout=httpx.Timeout(60.0, read=600.0),
        )
    if answer.status_code != 202:
        raise IngestFailed(error_text(answer))
    job: dict[str, Any] = answer.json()
    return job


def upload_subtitles(
    route: Route, track: SubtitleFile, *, title_id: str, episode_id: str | None
) -> None:
    """Hand a subtitle track to the encoder before the video, which then publishes it (so the
    title is not packaged once more for it)."""
    answer = httpx.post(
        route.subtitles_url(title_id),
        params={"episode_id": episode_id} if episode_id else None,
        files={"file": (track.path.name, track.path.read_bytes(), "text/plain")},
        data={"language": track.language, "kind": track.kind, "publish": "false"},
        headers=route.headers(),
        timeout=60.0,
    )
    if answer.status_code != 201:
        raise IngestFailed(f"subtitles {track.describe()}: {error_text(answer)}")
    console.print(f"subtitles {track.describe()}: {answer.json()['cues']} cues checked")


def follow_job(route: Route, job_id: str, *, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    with _bar(transfer=False) as bar:
        task = bar.add_task("queued", total=100)
        while True:
            answer = route.job(job_id)
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
