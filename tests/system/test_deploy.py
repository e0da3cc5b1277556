"""Independent deploys: one service moves to another revision while the platform runs and
members keep using it, with no failed request; a release that cannot start, or whose
migration would break the release still running, never replaces the old instances."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.backends import EmbeddedNats
from tests.support.platform import LocalPlatform, unthrottled_platform
from tests.support.revisions import clone_for_revisions
from tests.support.users import Member, sign_up

SERVICES = ["registry", "identity", "profiles", "gateway"]
PROFILES = "src/cinemesh/services/profiles"
pytestmark = pytest.mark.timeout(900)  # each test runs whole deploys: minutes on a busy host


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, embedded_nats: EmbeddedNats
) -> Iterator[LocalPlatform]:
    with unthrottled_platform(
        tmp_path_factory.mktemp("deploy"),
        embedded_nats.url,
        services=SERVICES,
        scale={"gateway": 2, "profiles": 2},
    ) as running:
        yield running


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this repository where the tests commit the revisions they deploy."""
    return clone_for_revisions(tmp_path_factory.mktemp("revisions") / "cinemesh")


def revision(clone: Path, message: str, files: dict[str, str]) -> str:
    """A commit the next revision is not built on (a bad release is fixed, not followed)."""
    sha = commit(clone, message, files)
    subprocess.run(["git", "-C", str(clone), "reset", "-q", "--hard", "HEAD~1"], check=True)
    return sha


def migration(clone: Path, name: str, upgrade: str) -> dict[str, str]:
    """A new Alembic revision of profiles, after its newest one, whose upgrade() is `upgrade`."""
    versions_dir = clone / PROFILES / "migrations" / "versions"
    newest = sorted(versions_dir.glob("0*.py"))[-1].read_text()
    latest = re.search(r'^revision = "([^"]+)"', newest, re.M).group(1)  # type: ignore[union-attr]
    text = (
        f'"""{name}"""\n\nfrom alembic import op\n\n'
        f'revision = "{name}"\ndown_revision = "{latest}"\n\n\n'
        f"def upgrade() -> None:\n    {upgrade}\n\n\n"
        "def downgrade() -> None:\n    pass\n"
    )
    return {f"{PROFILES}/migrations/versions/{name}.py": text}


def commit(clone: Path, message: str, files: dict[str, str]) -> str:
    for name, text in files.items():
        path = clone / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    subprocess.run(["git", "-C", str(clone), "add", *files], check=True)
    subprocess.run(["git", "-C", str(clone), "commit", "-q", "-m", message], check=True)
    done = subprocess.run(
        ["git", "-C", str(clone), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def appended(clone: Path, name: str, text: str) -> dict[str, str]:
    return {name: (clone / name).read_text() + text}


class SteadyMembers:
    """Members reading and changing their profiles through the gateway, each request on a
    new connection, counting every answer that is not a success."""

    def __init__(self, platform: LocalPlatform, member: Member) -> None:
        self.platform, self.member = platform, member
        self.answers: Counter[int] = Counter()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._visit) for _ in range(3)]

    def _visit(self) -> None:
        while not self._stop.is_set():
            try:
                status = httpx.get(
                    self.platform.gateway + "/api/v1/profiles",
                    headers=self.member.headers,
                    timeout=10,
                ).status_code
            except httpx.TransportError as exc:
                status = 0
                self.errors.append(f"{time.time():.3f} {type(exc).__name__}: {exc}")
            self.answers[status] += 1

    def __enter__(self) -> SteadyMembers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    @property
    def failed(self) -> int:
        return sum(n for status, n in self.answers.items() if status != 200)


def deploy(
    platform: LocalPlatform, clone: Path, service: str, ref: str
) -> subprocess.CompletedProcess[str]:
    return platform.cli("deploy", service, "--ref", ref, "--repo", str(clone), timeout_s=240)


def versions(platform: LocalPlatform, service: str) -> set[str]:
    return {i["version"] for i in platform.wait_healthy(service=service, timeout_s=30)}


def test_profiles_and_gateway_move_to_a_new_revision_with_no_failed_request(
    platform: LocalPlatform, clone: Path
) -> None:
    ref = commit(clone, "a harmless change", appended(clone, f"{PROFILES}/service.py", "\n# v2\n"))
    member = sign_up(platform)
    with SteadyMembers(platform, member) as load:
        for service in ("profiles", "gateway"):
            done = deploy(platform, clone, service, ref)
            assert done.returncode == 0, done.stdout + done.stderr
            print(done.stdout.strip().splitlines()[-1])
            assert versions(platform, service) == {ref[:12]}
            assert len(platform.instances(service)) == 2
        time.sleep(1)
    print(f"answers during two rolling deploys: {dict(load.answers)}")
    assert load.answers[200] > 50
    assert load.failed == 0, (dict(load.answers), load.errors)
    listed = platform.cli("releases", "profiles")
    assert ref[:12] in listed.stdout and "promoted" in listed.stdout
    ops = httpx.get(f"{platform.gateway}/api/v1/ops/services", timeout=10).json()
    profiles = next(s for s in ops["services"] if s["name"] == "profiles")
    assert profiles["versions"] == [{"version": ref[:12], "instances": 2, "traffic_share": 1.0}]
    assert {i["version"] for i in profiles["instances"]} == {ref[:12]}
    assert ops["deploys"]["gateway"]["verdict"] == "promoted"


def test_a_release_that_cannot_start_is_rolled_back_and_the_old_instances_never_stopped(
    platform: LocalPlatform, clone: Path
) -> None:
    broken = revision(
        clone,
        "a release whose migration fails at start",
        migration(clone, "9998_fails", "raise RuntimeError('this release cannot migrate')"),
    )
    before = {i["pid"] for i in platform.instances("profiles")}
    running_version = versions(platform, "profiles")
    member = sign_up(platform)
    with SteadyMembers(platform, member) as load:
        done = deploy(platform, clone, "profiles", broken)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "rolled back" in done.stdout
    assert {i["pid"] for i in platform.instances("profiles")} == before
    assert versions(platform, "profiles") == running_version
    assert load.failed == 0, dict(load.answers)


def test_a_migration_that_drops_a_column_is_refused_before_any_instance_starts(
    platform: LocalPlatform, clone: Path
) -> None:
    ref = revision(
        clone,
        "drop a column",
        migration(clone, "9999_drop", 'op.drop_column("profiles", "avatar")'),
    )
    before = {i["pid"] for i in platform.instances("profiles")}
    done = deploy(platform, clone, "profiles", ref)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "drops column profiles avatar" in " ".join(done.stdout.split())
    assert {i["pid"] for i in platform.instances("profiles")} == before


def test_a_release_that_drops_an_event_field_fails_the_contract_gate(
    platform: LocalPlatform, clone: Path
) -> None:
    contract = clone / "src/cinemesh/contracts/profiles.py"
    narrower = contract.read_text().replace("    kids: bool\n", "", 1)
    ref = revision(clone, "drop kids from the event", {str(contract.relative_to(clone)): narrower})
    done = deploy(platform, clone, "profiles", ref)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "event profiles.profile.upserted: field `kids` was removed" in " ".join(
        done.stdout.split()
    )


def test_a_release_whose_pacts_drop_a_field_the_running_gateway_reads_is_refused(
    platform: LocalPlatform, clone: Path
) -> None:
    """profiles' release was verified (its CI) only against its own copy of the gateway's
    pact, which no longer asks for a profile's `maturity`; the running gateway still reads it."""
    name = "tests/contracts/pacts/gateway-profiles.json"
    pact = json.loads((clone / name).read_text())
    read = next(i for i in pact["interactions"] if i["description"] == "the member's profile")
    del read["response"]["body"]["content"]["maturity"]
    read["response"]["matchingRules"]["body"].pop("$.maturity")
    ref = revision(clone, "profiles' pact without maturity", {name: json.dumps(pact, indent=2)})
    before = {i["pid"] for i in platform.instances("profiles")}
    done = deploy(platform, clone, "profiles", ref)
    assert done.returncode == 2, done.stdout + done.stderr
    said = " ".join(done.stdout.split())
    assert "the running gateway's pact with profiles" in said, said
    assert '"the member\'s profile"' in said and "response field `maturity` is not in it" in said
    assert {i["pid"] for i in platform.instances("profiles")} == before


def misbehaving(clone: Path, behaviour: str) -> dict[str, str]:
    """profiles' internal API with `behaviour` (async code) run before every handler."""
    name = f"{PROFILES}/api.py"
    text = (clone / name).read_text()
    hook = (
        "\n\nasync def misbehave() -> None:\n"
        "    import asyncio, random  # noqa\n"
        "    from cinemesh.platform.errors import ApiError  # noqa\n"
        f"    {behaviour}\n\n\n"
    )
    wired = 'router = APIRouter(prefix="/v1/profiles", dependencies=[Depends(misbehave)])'
    text = text.replace('router = APIRouter(prefix="/v1/profiles")', hook + wired, 1)
    text = text.replace(
        "from fastapi import APIRouter,", "from fastapi import APIRouter, Depends,", 1
    )
    return {name: text}


def canary(platform: LocalPlatform, clone: Path, ref: str) -> subprocess.CompletedProcess[str]:
    return platform.cli(
        "deploy", "profiles", "--ref", ref, "--repo", str(clone),
        "--strategy", "canary", "--weight", "20", "--duration", "20",
        timeout_s=300,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("if random.random() < 0.2: raise ApiError(500, 'BROKEN', 'a bad release')", "error ratio"),
        ("await asyncio.sleep(0.3)", "median latency"),
    ],
    ids=["errors-on-a-fifth-of-calls", "300-ms-slower"],
)
def test_a_bad_canary_is_rolled_back_by_its_analysis(
    platform: LocalPlatform, clone: Path, behaviour: str, reason: str
) -> None:
    ref = revision(clone, f"a canary that misbehaves: {behaviour}", misbehaving(clone, behaviour))
    before = {i["pid"] for i in platform.instances("profiles")}
    member = sign_up(platform)
    with SteadyMembers(platform, member) as load:
        done = canary(platform, clone, ref)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"canary failed: {reason}" in " ".join(done.stdout.split())
    assert {i["pid"] for i in platform.instances("profiles")} == before
    # at most the canary's share (20%) of its errors (20%) reach members; retries hide most
    assert load.failed <= 0.04 * sum(load.answers.values()) + 3, dict(load.answers)


def test_a_clean_canary_is_promoted(platform: LocalPlatform, clone: Path) -> None:
    ref = commit(clone, "a clean canary", appended(clone, f"{PROFILES}/service.py", "\n# v3\n"))
    member = sign_up(platform)
    with SteadyMembers(platform, member) as load:
        done = canary(platform, clone, ref)
    assert done.returncode == 0, done.stdout + done.stderr
    assert versions(platform, "profiles") == {ref[:12]}
    assert load.failed == 0, dict(load.answers)


def test_rollback_returns_to_the_release_before(platform: LocalPlatform, clone: Path) -> None:
    history = platform.cli("releases", "profiles").stdout
    assert "(cinemesh up)" in history
    done = platform.cli("rollback", "profiles", timeout_s=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(versions(platform, "profiles")) == 1
