"""What the contract tests share: a real gateway whose resilient client is pointed at a Pact mock
server, and the committed pact files the providers are verified against."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fastapi import Request
from pact import Pact

from cinemesh.platform.auth import Principal
from cinemesh.platform.discovery import Instance
from cinemesh.platform.http import Clients
from cinemesh.platform.kept import KeptReads
from cinemesh.platform.settings import PlatformSettings
from cinemesh.services.gateway.core import Gateway
from cinemesh.services.gateway.settings import GatewaySettings

# pact's libraries report usage to a server unless told not to: tests call nobody outside
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")
PACTS = Path(__file__).parent / "pacts"
CONSUMER = "gateway"
MEMBER = Principal(account_id="acct-contract", role="member", plan="premium")
ADMIN = Principal(account_id="acct-contract-admin", role="admin", plan="premium")
# set to rewrite the committed pact files from the consumer tests (after changing one)
UPDATE_PACTS = os.environ.get("CINEMESH_UPDATE_PACTS") == "1"


class MockServerDiscovery:
    """Discovery that finds the pact's provider at its mock server and no other service: what
    the gateway asks of others meanwhile meets their absence (and its fallback), and stays
    out of this pact."""

    def __init__(self, provider: str, url: str) -> None:
        self.provider = provider
        self.url = url.rstrip("/")

    async def instances(self, service: str) -> list[Instance]:
        if service != self.provider:
            return []
        return [Instance(service, f"{service}-pact-mock", self.url)]

    async def all_instances(self) -> dict[str, list[Instance]]:
        return {}


def new_pact(provider: str) -> Pact:
    return Pact(CONSUMER, provider).with_specification("V4")


@asynccontextmanager
async def gateway_against(pact: Pact) -> AsyncIterator[Gateway]:
    """The gateway's own `Gateway` (its calls, deadlines, resilient client) with the provider
    replaced by the pact's mock server; on leaving, the mock server must have seen every
    interaction and nothing else (pact-python raises otherwise)."""
    with pact.serve(raises=True) as server:
        clients = Clients(
            caller=CONSUMER,
            discovery=MockServerDiscovery(pact.provider, str(server.url)),
            auth_headers={},
        )
        runtime: Any = SimpleNamespace(
            settings=PlatformSettings(),
            clients=clients,
            kept_reads=lambda notice, **_settings: KeptReads(notice),
            principal=signed_in_member,
        )
        try:
            yield Gateway(runtime, GatewaySettings())
        finally:
            await clients.close()


async def signed_in_member(_request: Request) -> Principal:
    """Whose token a route checks itself (the beacons' sender): the member's; checking a
    token's signature is identity's keys' business, not these pacts'."""
    return MEMBER


def interactions_of(pact_file: Path) -> list[dict[str, Any]]:
    """A pact's interactions in a stable order, without what differs run to run (metadata)."""
    content = json.loads(pact_file.read_text())
    return sorted(content["interactions"], key=lambda i: str(i["description"]))


def pact_file(folder: Path, provider: str) -> Path:
    return folder / f"{CONSUMER}-{provider}.json"


def settle_pact(pact: Pact, provider: str, written_to: Path) -> None:
    """Write the consumer's pact and hold it against the committed one: a change to what the
    gateway asks of a provider must show in `tests/contracts/pacts/`, where the provider's
    verification reads it."""
    pact.write_file(written_to, overwrite=True)
    fresh = pact_file(written_to, provider)
    committed = pact_file(PACTS, provider)
    if UPDATE_PACTS or not committed.exists():
        PACTS.mkdir(exist_ok=True)
        committed.write_text(fresh.read_text())
        if not UPDATE_PACTS:
            raise AssertionError(f"{committed} was missing; written now, commit it")
    assert interactions_of(fresh) == interactions_of(committed), (
        f"the gateway's pact with {provider} changed; rerun with CINEMESH_UPDATE_PACTS=1, "
        f"review and commit {committed}"
    )
