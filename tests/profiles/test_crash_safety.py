"""kill -9 of profiles under write load loses no acknowledged change, on both backends:
every profile created or renamed, and every title added to My List, with a success answer is
there after the restart."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from tests.support.backends import Backend
from tests.support.platform import LocalPlatform
from tests.support.users import Member, sign_up

SERVICES = ["registry", "identity", "profiles", "gateway"]
NO_GATEWAY_LIMITS = {"CINEMESH_GATEWAY_RATE_PER_IP": "0", "CINEMESH_GATEWAY_RATE_PER_ACCOUNT": "0"}


class Writer:
    """Creates, renames and fills profiles in turn, remembering what was acknowledged."""

    def __init__(self, client: httpx.Client, members: list[Member]) -> None:
        self.client, self.members = client, members
        self.profiles: dict[str, tuple[Member, str]] = {}  # id -> (owner, acknowledged name)
        self.listed: dict[str, set[str]] = {}
        self.unanswered: dict[str, set[str]] = {}  # renames tried since the acknowledged one

    def step(self, n: int) -> None:
        member = self.members[n % len(self.members)]
        mine = [pid for pid, (owner, _) in self.profiles.items() if owner is member]
        if n % 3 == 0 and len(mine) < 5:
            made = self.client.post("/profiles", json={"name": f"P{n}"}, headers=member.headers)
            if made.status_code == 201:
                self.profiles[made.json()["id"]] = (member, f"P{n}")
        elif mine and n % 3 == 1:
            pid = mine[n % len(mine)]
            self.unanswered.setdefault(pid, set()).add(f"R{n}")
            renamed = self.client.patch(
                f"/profiles/{pid}", json={"name": f"R{n}"}, headers=member.headers
            )
            if renamed.status_code == 200:
                self.profiles[pid] = (member, f"R{n}")
                self.unanswered[pid] = set()
        elif mine:
            pid = mine[n % len(mine)]
            added = self.client.put(f"/profiles/{pid}/my-list/t-{n}", headers=member.headers)
            if added.status_code == 200:
                self.listed.setdefault(pid, set()).add(f"t-{n}")


def wait_for_profiles(client: httpx.Client, member: Member) -> None:
    """After the restart the gateway's breaker to profiles half-opens and closes by itself."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if client.get("/profiles", headers=member.headers).status_code == 200:
            return
        time.sleep(0.5)
    raise AssertionError("profiles did not come back after the restart")


def test_no_acknowledged_profile_change_is_lost(backend: Backend, data_dir: Path) -> None:
    platform = LocalPlatform(
        data_dir, services=SERVICES, env={**backend.env, **NO_GATEWAY_LIMITS}
    ).start()
    try:
        members = [sign_up(platform, profile=None) for _ in range(4)]
        client = httpx.Client(base_url=f"{platform.gateway}/api/v1", timeout=5)
        writer = Writer(client, members)
        killer = threading.Timer(2.5, lambda: platform.kill("profiles"))
        killer.start()
        stop, n = time.monotonic() + 8, 0
        while time.monotonic() < stop:
            try:
                writer.step(n)
            except httpx.HTTPError:
                pass
            n += 1
        killer.join()
        platform.wait_healthy(service="profiles", timeout_s=60)
        assert platform.instances("profiles")[0]["restarts"] >= 1, "profiles was really killed"
        wait_for_profiles(client, members[0])
        assert writer.profiles and writer.listed, "the load wrote before and after the kill"
        for member in members:
            stored = {
                p["id"]: p["name"]
                for p in client.get("/profiles", headers=member.headers).json()["items"]
            }
            for pid, (owner, name) in writer.profiles.items():
                if owner is member:
                    # a rename may commit while its answer is lost in the kill
                    allowed = {name} | writer.unanswered.get(pid, set())
                    assert stored.get(pid) in allowed, (pid, name, stored.get(pid))
        for pid, titles in writer.listed.items():
            owner = writer.profiles[pid][0]
            items = client.get(f"/profiles/{pid}/my-list", headers=owner.headers).json()["items"]
            assert titles <= {i["title_id"] for i in items}
        print(f"{backend.name}: {n} writes around a kill -9 of profiles")
    finally:
        platform.stop()
