"""PostgreSQL stopped for 10 s under a steady stream of writes (issue 26). The platform runs on a
PostgreSQL server of the test's own (the machine's shared one serves other tests), and a member
adds titles to My List through the gateway all along: profiles writes each entry and stages its
`profiles.mylist.changed` event in the same transaction. While the server is down every write is
a clear, quick 503 and readiness fails; once it is back the same processes write again, every
acknowledged entry is in the database, and the outbox has published exactly one event for each
entry the database holds (an acknowledged write's event is never lost: it commits with the
write). A failover looks the same to a service (docs/deploy.md: the primary's Service moves)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest

from cinemesh.platform.events import EventBus
from tests.support.backends import EmbeddedNats
from tests.support.outbox import events_in_stream
from tests.support.platform import LocalPlatform
from tests.support.private_postgres import PrivatePostgres
from tests.support.users import Member, sign_up

SERVICES = ["registry", "identity", "profiles", "gateway"]
OUTAGE_S = 10.0
DEADLINE_S = 2.0  # what the gateway waits for profiles (platform/http.py), then answers itself
UNAVAILABLE_CODES = {"DATABASE_UNAVAILABLE", "PROFILES_UNAVAILABLE"}


@dataclass
class Write:
    title_id: str
    status: int  # 0: no answer at all
    code: str
    retry_after: str | None
    took_s: float
    at: float


@dataclass
class SteadyWriter:
    """Adds a new title to the member's My List every `every_s` from a thread."""

    gateway: str
    member: Member
    every_s: float = 0.05
    writes: list[Write] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> SteadyWriter:
        self._thread = threading.Thread(target=self._write, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=15)

    def acknowledged(self) -> set[str]:
        return {w.title_id for w in self.writes if w.status == 200}

    def _write(self) -> None:
        run = uuid.uuid4().hex[:6]
        path = f"/api/v1/profiles/{self.member.profile_id}/my-list"
        with httpx.Client(base_url=self.gateway, headers=self.member.headers, timeout=10) as http:
            n = 0
            while not self._stop.is_set():
                title_id = f"t-{run}-{n}"
                started = time.monotonic()
                try:
                    answer = http.put(f"{path}/{title_id}")
                    status, retry_after = answer.status_code, answer.headers.get("retry-after")
                    code = answer.json().get("error", {}).get("code", "") if status >= 400 else ""
                except httpx.HTTPError as exc:
                    status, code, retry_after = 0, type(exc).__name__, None
                took = time.monotonic() - started
                self.writes.append(Write(title_id, status, code, retry_after, took, started))
                n += 1
                time.sleep(self.every_s)


@dataclass
class Outage:
    platform: LocalPlatform
    postgres: PrivatePostgres
    namespace: str
    nats_url: str

    def ready(self, service: str) -> httpx.Response:
        return httpx.get(f"{self.platform.url_of(service)}/health/ready", timeout=5)

    def pids(self) -> dict[str, int]:
        return {i["service"]: i["pid"] for i in self.platform.instances()}

    def restarts(self) -> dict[str, int]:
        return {i["service"]: i["restarts"] for i in self.platform.instances()}


@pytest.fixture(scope="module")
def outage(
    tmp_path_factory: pytest.TempPathFactory, embedded_nats: EmbeddedNats
) -> Iterator[Outage]:
    postgres = PrivatePostgres().init()
    namespace = f"o{uuid.uuid4().hex[:8]}"
    env = {
        "CINEMESH_DATABASE_URL_TEMPLATE": postgres.url_template(),
        "CINEMESH_NATS_URL": embedded_nats.url,
        "CINEMESH_BUS_NAMESPACE": namespace,
        "CINEMESH_REDIS_URL": "",
        "CINEMESH_GATEWAY_RATE_PER_IP": "0",
        "CINEMESH_GATEWAY_RATE_PER_ACCOUNT": "0",
    }
    platform = None
    try:
        data_dir = tmp_path_factory.mktemp("database-outage") / "data"
        platform = LocalPlatform(data_dir, services=SERVICES, env=env).start(timeout_s=120)
        yield Outage(platform, postgres, namespace, embedded_nats.url)
    finally:
        if platform is not None:
            platform.stop()
        postgres.remove()


def eventually(check: Callable[[], object], *, timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout_s} s; last: {last!r}")


def entries_in_database(outage: Outage, profile_id: str) -> set[str]:
    """The profile's My List as profiles' own database holds it, past every cache."""

    async def read() -> set[str]:
        conn = await asyncpg.connect(
            host="127.0.0.1",
            port=outage.postgres.port,
            user="postgres",
            database="cinemesh_profiles",
        )
        try:
            rows = await conn.fetch(
                "SELECT title_id FROM my_list WHERE profile_id = $1", profile_id
            )
        finally:
            await conn.close()
        return {str(row["title_id"]) for row in rows}

    return asyncio.run(read())


def list_events_on_the_bus(outage: Outage, profile_id: str) -> Counter[str]:
    """How many `profiles.mylist.changed` events of the profile the stream holds, by title."""

    async def replay() -> Counter[str]:
        bus = EventBus(outage.nats_url, service="outage-test", namespace=outage.namespace)
        await bus.connect()
        try:
            events = await events_in_stream(bus, "profiles.mylist.changed")
        finally:
            await bus.close()
        return Counter(
            str(e.data["title_id"]) for e in events if e.data.get("profile_id") == profile_id
        )

    return asyncio.run(replay())


def test_a_stopped_database_answers_clear_503s_and_loses_no_acknowledged_write(
    outage: Outage,
) -> None:
    member = sign_up(outage.platform)
    pids, profiles_url = outage.pids(), outage.platform.url_of("profiles")
    writer = SteadyWriter(outage.platform.gateway, member).start()
    try:
        eventually(lambda: len(writer.acknowledged()) >= 40, timeout_s=30, what="writes flowing")
        outage.postgres.stop()
        stopped_at = time.monotonic()

        down = eventually(
            lambda: (r := outage.ready("profiles")).status_code == 503 and r,
            timeout_s=5,
            what="profiles not ready while its database is down",
        )
        assert isinstance(down, httpx.Response)
        assert down.json()["checks"]["database"].startswith("failing"), down.json()
        assert outage.ready("identity").status_code == 503
        direct = httpx.put(
            f"{profiles_url}/v1/profiles/{member.profile_id}/my-list/direct-{uuid.uuid4().hex[:6]}",
            headers={**outage.platform.headers, **member.headers},
            timeout=10,
        )
        assert direct.status_code == 503, direct.text
        assert direct.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
        assert direct.headers["retry-after"]

        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped_at)))
        outage.postgres.start()
        restarted_at = time.monotonic()

        eventually(
            lambda: {outage.ready(s).status_code for s in ("profiles", "identity")} == {200},
            timeout_s=10,
            what="readiness back once the database is",
        )
        first = eventually(
            lambda: [w for w in writer.writes if w.at > restarted_at and w.status == 200],
            timeout_s=15,
            what="writes acknowledged again, by the same processes",
        )
        assert isinstance(first, list)
        recovered_at = first[0].at
        time.sleep(4)  # a steady stream again after the recovery
    finally:
        writer.stop()

    during = [w for w in writer.writes if stopped_at + 0.5 < w.at < restarted_at - DEADLINE_S]
    assert len(during) >= 10, "the writer kept writing through the outage"
    assert all(w.status == 503 for w in during), Counter((w.status, w.code) for w in during)
    assert {w.code for w in during} <= UNAVAILABLE_CODES
    assert all(w.retry_after for w in during)
    assert max(w.took_s for w in during) < DEADLINE_S + 1.0, "a write hung past its deadline"
    assert not [w for w in writer.writes if w.status not in (200, 503)], "a 500 or no answer"
    after = [w for w in writer.writes if w.at > recovered_at]
    assert len(after) >= 10 and all(w.status == 200 for w in after), Counter(w.code for w in after)

    acknowledged = writer.acknowledged()
    stored = entries_in_database(outage, member.profile_id)
    assert acknowledged <= stored, f"lost acknowledged writes: {sorted(acknowledged - stored)[:5]}"
    events = eventually(
        lambda: (
            (seen := list_events_on_the_bus(outage, member.profile_id)).keys() >= stored and seen
        ),
        timeout_s=30,
        what="the outbox publishing every stored entry's event",
    )
    assert isinstance(events, Counter)
    assert set(events) == stored, "an event for an entry the database does not hold"
    assert set(events.values()) == {1}, "an entry's event published twice"

    assert outage.pids() == pids, "a service process was replaced"
    assert set(outage.restarts().values()) == {0}
