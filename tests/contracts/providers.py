"""Provider side of the gateway's pacts: each provider state an interaction names, set up for
real through the provider's own API or the events it consumes, and the state-change endpoint
the Pact verifier calls before replaying an interaction."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from pact import Verifier

from cinemesh.contracts.catalog import TitleUpserted
from cinemesh.contracts.media import AssetReady
from cinemesh.contracts.playback import PlaybackProgress, PlaybackStarted
from cinemesh.runner.local import LocalPlatform
from tests.contracts.conftest import pact_file
from tests.contracts.test_gateway_consumer import MULTIPART, PASSWORD
from tests.playback.media import DURATION_S, publish, renditions

StateSetup = Callable[["ProviderWorld"], dict[str, Any]]
FORM = {"Content-Type": MULTIPART}
PROBE_SEQ = 1_000_000  # the last sequence number a beacon may have: never the pact's


# the providers the gateway calls for an admin (catalog's admin writes, the encoder's ingest):
# the verifier sends them an admin's token, the others a member's, as the gateway passes on
AS_ADMIN = frozenset({"catalog", "encoder"})


class ProviderWorld:
    """The running providers, a member signed up with identity and an admin, whose access
    token the verifier sends along with the service credential (as the gateway does)."""

    def __init__(self, platform: LocalPlatform) -> None:
        self.platform = platform
        self.member_headers: dict[str, str] = {}
        self.admin_headers: dict[str, str] = {}
        self.identity_headers: dict[str, str] = {}
        self.email = f"provider-{uuid.uuid4().hex[:8]}@example.com"
        account = self.call("identity", "POST", "/v1/accounts", json=credentials(self.email))
        self.account_id = str(account.json()["id"])
        self.member_headers = self.signed_in(self.email)
        admin = f"admin-{uuid.uuid4().hex[:8]}@example.com"
        self.call("identity", "POST", "/v1/admins", json=credentials(admin, plan=None))
        self.admin_headers = self.signed_in(admin)
        # identity's pact changes its member's password (to the same one), which signs that
        # account out everywhere: an account of its own, so no other provider's member is
        own = f"provider-identity-{uuid.uuid4().hex[:8]}@example.com"
        self.call("identity", "POST", "/v1/accounts", json=credentials(own))
        self.identity_headers = self.signed_in(own)
        self._profile_id = ""

    def signed_in(self, email: str) -> dict[str, str]:
        """An Authorization header of a new session of `email`."""
        tokens = self.sign_in(email)
        return {"Authorization": f"Bearer {tokens['access_token']}"}

    def sign_in(self, email: str) -> dict[str, Any]:
        answer = self.call("identity", "POST", "/v1/sessions", json=credentials(email, plan=None))
        return dict(answer.json())

    def headers_for(self, service: str) -> dict[str, str]:
        """The service credential and the caller the gateway passes on to `service`."""
        caller = self.admin_headers if service in AS_ADMIN else self.member_headers
        if service == "identity" and self.identity_headers:
            caller = self.identity_headers
        return {**self.platform.headers, **caller}

    def profile_id(self) -> str:
        """The member's one profile, made through profiles' API the first time a state needs
        it (an account has at most five)."""
        if not self._profile_id:
            body = {"name": "Pact"}
            self._profile_id = str(
                self.call("profiles", "POST", "/v1/profiles", json=body).json()["id"]
            )
        return self._profile_id

    def ask(
        self,
        service: str,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """A call to a provider as the gateway makes it (`headers_for`)."""
        sent = {**self.headers_for(service), **(headers or {})}
        url = self.platform.url_of(service) + path
        return httpx.request(method, url, headers=sent, timeout=30, **kwargs)

    def call(self, service: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        answer = self.ask(service, method, path, **kwargs)
        assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer

    def wait_for(self, check: Callable[[], bool], what: str, within_s: float = 30) -> None:
        deadline = time.monotonic() + within_s
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"provider state never came true: {what}")
            time.sleep(0.1)

    def verify(self, provider: str, pacts: Path, states: StateEndpoint) -> Verification:
        """Replay the gateway's pact with `provider` against its running instance."""
        verifier = (
            Verifier(provider, host="127.0.0.1")
            .add_transport(url=self.platform.url_of(provider))
            .add_source(pact_file(pacts, provider))
            .state_handler(states.url, teardown=False, body=True)
            .add_custom_headers(self.headers_for(provider))
            .set_error_on_empty_pact(enabled=True)
        )
        try:
            verifier.verify()
        except RuntimeError:
            return Verification(held=False, output=verifier.output(strip_ansi=True))
        return Verification(held=True, output=verifier.output(strip_ansi=True))


@dataclass(frozen=True)
class Verification:
    held: bool
    output: str  # the verifier's report: each interaction, and each mismatch with its path


def credentials(email: str, *, plan: str | None = "premium") -> dict[str, str]:
    body = {"email": email, "password": PASSWORD}
    return {**body, "plan": plan} if plan else body


def an_account_exists(world: ProviderWorld, *, email: str) -> dict[str, Any]:
    """Signed up through identity's own API (again in a later interaction: already there)."""
    url = world.platform.url_of("identity") + "/v1/accounts"
    answer = httpx.post(url, json=credentials(email), headers=world.platform.headers, timeout=10)
    assert answer.status_code in (201, 409), answer.text
    return {"email": email}


def a_title_exists(
    world: ProviderWorld, *, title_id: str, genre: str, episodes: list[str] | None = None
) -> dict[str, Any]:
    """Put through catalog's bulk import; with `episodes`, a series of them (season 1)."""
    title: dict[str, Any] = {
        "id": title_id,
        "title": "A Contract",
        "kind": "movie" if episodes is None else "series",
        "genres": [genre],
        "year": 2020,
        "maturity_rating": "PG-13",
        "synopsis": "What a contract promises.",
        "popularity": 10.0,
    }
    if episodes is not None:
        title["episodes"] = [
            {"season": 1, "number": n, "name": name} for n, name in enumerate(episodes, 1)
        ]
    world.call("catalog", "PUT", "/v1/titles/bulk", json={"titles": [title]})
    return {"title_id": title_id}


def a_title_is_indexed(world: ProviderWorld, *, title_id: str, genre: str) -> dict[str, Any]:
    """Search builds its index from catalog's events: announce the title as catalog would."""
    event = TitleUpserted(
        title_id=title_id,
        title="A Contract",
        kind="movie",
        genres=[genre],
        year=2020,
        maturity_rating="PG-13",
        playable=False,
    )
    publish(world.platform.env, event)

    def found() -> bool:
        answer = world.call("search", "GET", "/v1/search", params={"q": "contract"})
        return any(hit["id"] == title_id for hit in answer.json()["hits"])

    world.wait_for(found, f"search finds {title_id}")
    return {"title_id": title_id}


def a_profile_with_a_listed_title(world: ProviderWorld, *, title_id: str) -> dict[str, Any]:
    profile_id = world.profile_id()
    world.call("profiles", "PUT", f"/v1/profiles/{profile_id}/my-list/{title_id}")
    return {"profile_id": profile_id}


def a_playable_title(world: ProviderWorld, *, title_id: str) -> dict[str, Any]:
    """Playback learns titles and their assets from catalog's and the encoder's events: send
    them, then wait until a play of it starts (and stop that play)."""
    profile_id = world.profile_id()
    asset_id = f"a-{title_id}"
    title = TitleUpserted(
        title_id=title_id, title="Playable", kind="movie", genres=["Drama"],
        maturity_rating="PG-13", playable=True,
    )  # fmt: skip
    asset = AssetReady(
        asset_id=asset_id, title_id=title_id, duration_s=DURATION_S, renditions=renditions()
    )
    publish(world.platform.env, title, asset)
    probe = uuid.uuid4().hex

    def starts() -> bool:
        body = {"profile_id": profile_id, "title_id": title_id, "session_id": probe}
        answer = world.ask("playback", "POST", "/v1/sessions", json=body)
        return answer.status_code == 201

    world.wait_for(starts, f"playback can play {title_id}")
    world.call("playback", "DELETE", f"/v1/sessions/{probe}")
    return {"profile_id": profile_id, "title_id": title_id}


def a_session_is_playing(world: ProviderWorld, *, session_id: str, title_id: str) -> dict[str, Any]:
    """Started through playback's own API with the session id the pact names."""
    state = a_playable_title(world, title_id=title_id)
    body = {**state, "session_id": session_id}
    world.call("playback", "POST", "/v1/sessions", json=body)
    return {"session_id": session_id}


def part_way_through(world: ProviderWorld, *, profile_id: str, title_id: str) -> dict[str, Any]:
    """History learns positions from playback's events: send the one a heartbeat makes."""
    watched_to(world, profile_id=profile_id, title_id=title_id, position_s=600.0)
    path = f"/v1/profiles/{profile_id}/continue-watching"
    world.wait_for(
        lambda: bool(world.call("history", "GET", path).json()["items"]),
        f"history has {profile_id} in {title_id}",
    )
    return {"profile_id": profile_id, "title_id": title_id}


def finished(world: ProviderWorld, *, profile_id: str, title_id: str) -> dict[str, Any]:
    """The heartbeat of the title's last minute, then history counts it watched."""
    watched_to(world, profile_id=profile_id, title_id=title_id, position_s=3590.0)
    path = f"/v1/profiles/{profile_id}/watched"
    world.wait_for(
        lambda: any(
            i["title_id"] == title_id for i in world.call("history", "GET", path).json()["items"]
        ),
        f"history has {profile_id} done with {title_id}",
    )
    return {"profile_id": profile_id, "title_id": title_id}


def part_way_through_an_episode(
    world: ProviderWorld, *, profile_id: str, title_id: str, episode_id: str
) -> dict[str, Any]:
    watched_to(
        world, profile_id=profile_id, title_id=title_id, episode_id=episode_id, position_s=600.0
    )
    path = f"/v1/profiles/{profile_id}/progress/{title_id}"
    params = {"episode_id": episode_id}
    world.wait_for(
        lambda: world.ask("history", "GET", path, params=params).status_code == 200,
        f"history has {profile_id} in {episode_id}",
    )
    return {"profile_id": profile_id, "title_id": title_id}


def watched_to(
    world: ProviderWorld,
    *,
    profile_id: str,
    title_id: str,
    position_s: float,
    episode_id: str | None = None,
) -> None:
    event = PlaybackProgress(
        session_id=uuid.uuid4().hex,
        account_id=world.account_id,
        profile_id=profile_id,
        title_id=title_id,
        episode_id=episode_id,
        position_s=position_s,
        duration_s=3600.0,
        at=datetime.now(UTC).isoformat(),
    )
    publish(world.platform.env, event)


def a_spare_profile(world: ProviderWorld) -> dict[str, Any]:
    """A second profile of the member, made through profiles' API (one to remove)."""
    made = world.call("profiles", "POST", "/v1/profiles", json={"name": "Spare"}).json()
    return {"profile_id": str(made["id"])}


def a_refresh_token(world: ProviderWorld) -> dict[str, Any]:
    """A new session of the member's, signed in through identity's API."""
    return {"refresh_token": str(world.sign_in(world.email)["refresh_token"])}


def telemetry_knows_a_session(
    world: ProviderWorld, *, session_id: str, title_id: str
) -> dict[str, Any]:
    """Telemetry learns sessions from playback's events: send the one a play starts with,
    then wait until a beacon of it (a sequence number the pact does not use) is taken."""
    started = PlaybackStarted(
        session_id=session_id,
        account_id=world.account_id,
        profile_id=world.profile_id(),
        title_id=title_id,
        at=datetime.now(UTC).isoformat(),
    )
    publish(world.platform.env, started)
    probe = {"beacons": [{"session_id": session_id, "seq": PROBE_SEQ}]}
    world.wait_for(
        lambda: world.ask("telemetry", "POST", "/v1/beacons", json=probe).status_code == 202,
        f"telemetry takes beacons of {session_id}",
    )
    return {"session_id": session_id}


def an_experiment_runs(world: ProviderWorld, *, profile_id: str) -> dict[str, Any]:
    """An experiment on a layer of its own with every profile in it (traffic 1), made and
    started through experiments' API, once allocation hands it out."""
    design = {
        "name": "contract-cells",
        "layer": "contract",
        "traffic": 1.0,
        "cells": [{"name": "control"}, {"name": "treated", "treatments": {"contract.row": "on"}}],
    }
    made = world.ask("experiments", "POST", "/v1/experiments", json=design)
    if made.status_code == 201:
        experiment_id = str(made.json()["id"])
        world.call("experiments", "POST", f"/v1/experiments/{experiment_id}/start")
    else:  # made for an interaction before this one
        assert made.status_code == 409, made.text
        experiment_id = str(
            world.call("experiments", "GET", "/v1/experiments/contract-cells").json()["id"]
        )

    def allocated() -> bool:
        params = {"profile_id": profile_id}
        cells = world.call("experiments", "GET", "/v1/allocations", params=params).json()
        return any(a["experiment_id"] == experiment_id for a in cells["allocations"])

    world.wait_for(allocated, f"experiments allocates {profile_id}")
    return {"experiment_id": experiment_id}


def an_encode_job(world: ProviderWorld, *, title_id: str, upload: bytes) -> dict[str, Any]:
    """A source uploaded through the encoder's API as the admin, its job queued."""
    job = world.call(
        "encoder", "POST", f"/v1/titles/{title_id}/media", content=upload, headers=FORM
    ).json()
    return {"job_id": str(job["job_id"])}


def subtitles_exist(world: ProviderWorld, *, title_id: str, upload: bytes) -> dict[str, Any]:
    world.call("encoder", "POST", f"/v1/titles/{title_id}/subtitles", content=upload, headers=FORM)
    return {"title_id": title_id}


class StateEndpoint:
    """The provider-state URL the verifier posts `{state, params, action}` to; it answers with
    the values the interaction's provider-state generators fill in (an id the provider chose)."""

    def __init__(self, world: ProviderWorld, setups: dict[str, StateSetup]) -> None:
        self.world = world
        self.setups = setups
        self.asked: list[str] = []
        self.failures: list[
            str
        ] = []  # why a state could not be made (the verifier only says one failed)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/provider-states"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                asked = json.loads(self.rfile.read(int(self.headers["Content-Length"] or 0)))
                values: dict[str, Any] = {}
                status = 200
                state = str(asked.get("state") or "")
                if state and asked.get("action", "setup") == "setup":  # "": no state wanted
                    endpoint.asked.append(state)
                    try:
                        values = endpoint.setups[state](endpoint.world)
                    except Exception as failed:
                        status, values = 500, {"error": f"state {state!r}: {failed!r}"}
                        endpoint.failures.append(values["error"])
                body = json.dumps(values).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                return

        return Handler

    @contextmanager
    def serving(self) -> Iterator[StateEndpoint]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
