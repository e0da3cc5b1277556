"""The gateway's check that a profile belongs to the caller: a profile it saw recently stands
in while profiles cannot answer (an overloaded profiles service does not turn pages into 503s),
a refusal from profiles is a 404, and nothing unseen is ever let through."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from cinemesh.platform.auth import Principal
from cinemesh.platform.errors import ApiError
from cinemesh.platform.http import Response, ServiceUnavailable
from cinemesh.platform.kept import KeptReads
from cinemesh.platform.settings import PlatformSettings
from cinemesh.services.gateway import core
from cinemesh.services.gateway.core import Gateway
from cinemesh.services.gateway.settings import GatewaySettings

OWNER = Principal(account_id="a1", role="member", plan="basic")


class FakeProfiles:
    """Answers `GET /v1/profiles/{id}`; `answer` is a status, or None for no answer at all."""

    def __init__(self) -> None:
        self.answer: int | None = 200
        self.calls = 0

    async def request(self, method: str, path: str, **_kwargs: Any) -> Response:
        if not path.startswith("/v1/profiles/"):  # experiments, asked for the profile's cells
            raise ServiceUnavailable("experiments", "not in this test")
        self.calls += 1
        if self.answer is None:
            raise ServiceUnavailable("profiles", "circuit open")
        body = {"id": path.rsplit("/", 1)[-1], "maturity": "PG"} if self.answer == 200 else {}
        return Response(self.answer, {}, orjson.dumps(body))


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    now = Clock()
    monkeypatch.setattr(core.time, "monotonic", now)
    return now


@pytest.fixture
def profiles() -> FakeProfiles:
    return FakeProfiles()


@pytest.fixture
def gateway(profiles: FakeProfiles) -> Gateway:
    runtime = SimpleNamespace(
        settings=PlatformSettings(),
        clients=lambda _service: profiles,
        kept_reads=lambda notice, **_settings: KeptReads(notice),
    )
    return Gateway(runtime, GatewaySettings())  # type: ignore[arg-type]


async def status_of(gateway: Gateway, profile_id: str = "p1") -> int:
    try:
        await gateway.require_profile(None, OWNER, profile_id)  # type: ignore[arg-type]
    except ApiError as refused:
        return refused.status
    return 200


async def test_a_recently_seen_profile_stands_in_while_profiles_cannot_answer(
    gateway: Gateway, profiles: FakeProfiles, clock: Clock
) -> None:
    assert await status_of(gateway) == 200
    clock.t += core.OWNERSHIP_TTL_S + 1  # past the fresh window: profiles is asked again
    for outage in (None, 503, 500):
        profiles.answer = outage
        assert await status_of(gateway) == 200
    assert profiles.calls == 4


async def test_an_unseen_profile_is_503_while_profiles_cannot_answer(
    gateway: Gateway, profiles: FakeProfiles
) -> None:
    profiles.answer = None
    assert await status_of(gateway) == 503
    profiles.answer = 500
    assert await status_of(gateway) == 503


async def test_a_profile_seen_long_ago_is_not_trusted_through_an_outage(
    gateway: Gateway, profiles: FakeProfiles, clock: Clock
) -> None:
    assert await status_of(gateway) == 200
    clock.t += core.OWNERSHIP_STALE_S + 1
    profiles.answer = None
    assert await status_of(gateway) == 503


async def test_a_refusal_from_profiles_is_404_even_for_a_profile_seen_before(
    gateway: Gateway, profiles: FakeProfiles, clock: Clock
) -> None:
    assert await status_of(gateway) == 200
    clock.t += core.OWNERSHIP_TTL_S + 1
    profiles.answer = 404
    assert await status_of(gateway) == 404
    assert await status_of(gateway, "someone-elses") == 404
    profiles.answer = None  # refused once, it does not come back during an outage
    assert await status_of(gateway) == 503
