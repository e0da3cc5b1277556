"""The public API keeps its own contract under schemathesis, as a new user of it would run it:
every check (schemathesis' own and timestamps_have_an_offset from schemathesis_hooks.py),
the stateful phase chaining real calls through the OpenAPI links, as a member, as a member
whose profile is a kids profile and as an admin, on SQLite and on PostgreSQL. The chaos
operations get a platform of their own. Zero failures: a rule beyond JSON Schema is a
documented 422 code of its operation (schemathesis.toml).

A bounded run is part of `make test`; CINEMESH_FUZZ_EXAMPLES sets the examples per operation
for a long one (which also runs the coverage phase for every role, not only the admin's),
CINEMESH_FUZZ_SEED another seed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from cinemesh.demo.seeding import SEED_MODE_ENV
from tests.playback.media import add_title, make_package
from tests.support.backends import Backend
from tests.support.platform import LocalPlatform
from tests.support.users import Member, admin, sign_up

REPO = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
DEFAULT_EXAMPLES = 4
EXAMPLES = int(os.environ.get("CINEMESH_FUZZ_EXAMPLES", str(DEFAULT_EXAMPLES)))
SEED = os.environ.get("CINEMESH_FUZZ_SEED", "31")
LONG_RUN = EXAMPLES > DEFAULT_EXAMPLES
FUZZ_ENV = {
    "CINEMESH_GATEWAY_RATE_PER_IP": "0",
    "CINEMESH_GATEWAY_RATE_PER_ACCOUNT": "0",
    # a role's token outlives its run (the fuzzer's own sign-ins use up the address's
    # attempts, so a token could not be renewed mid-run)
    "CINEMESH_IDENTITY_ACCESS_TTL_S": "3600",
    SEED_MODE_ENV: "catalog",
}
MEMBER_ONLY = r"^/api/v1/(admin|ops/chaos)(/|$)"
# a platform started for the module, then minutes of requests: longer than the suite's 300 s
pytestmark = pytest.mark.timeout(1800)


@dataclass(frozen=True)
class Run:
    """What one `st run` said: its exit code, its cases and its whole output."""

    exit_code: int
    generated: int
    passed: int
    output: str


@pytest.fixture(scope="module")
def platform(
    module_backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalPlatform]:
    running = LocalPlatform(
        tmp_path_factory.mktemp(f"fuzz-{module_backend.name}"),
        env={**module_backend.env, **FUZZ_ENV},
    ).start(timeout_s=300)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def playable_title(platform: LocalPlatform, tmp_path_factory: pytest.TempPathFactory) -> str:
    package = make_package(tmp_path_factory.mktemp("fuzz-pkg") / "pkg")
    return add_title(env=platform.env, data_dir=platform.data_dir, package=package).title_id


@pytest.fixture(scope="module")
def accounts(platform: LocalPlatform) -> dict[str, Member]:
    """Each role's account, signed in before any fuzzing: the fuzzer's own sign-ins soon use
    up the attempts identity allows one address."""
    return {
        "member": signed_up(lambda: sign_up(platform, profile="Main")),
        "kids-member": signed_up(lambda: sign_up(platform, profile="Kid", kids=True)),
        "admin": signed_up(lambda: admin(platform)),
    }


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(value) for value in values) + "]"


def config_for(*, profiles: list[str], titles: list[str], coverage: bool) -> str:
    """schemathesis.toml and this run's data: the role's own profiles and some real titles,
    drawn for ids now and then so generated requests reach past the 404s."""
    bindings = {
        "path.profile_id": "profiles",
        "query.profile_id": "profiles",
        "body.profile_id": "profiles",
        "path.title_id": "titles",
        "body.title_id": "titles",
    }
    dictionaries = {"profiles": profiles, "titles": titles}
    lines = [
        CONFIG.read_text(),
        "[generation]",
        f"max-examples = {EXAMPLES}",
        "[phases.coverage]",
        f"enabled = {'true' if coverage else 'false'}",
        "[phases.stateful.generation]",
        f"max-examples = {EXAMPLES * 5}",
        *(
            f"[dictionaries.{name}]\nvalues = {toml_list(values)}"
            for name, values in dictionaries.items()
            if values
        ),
        "[parameters]",
        *(
            f'"{key}" = {{ dictionary = "{name}", probability = 0.4 }}'
            for key, name in bindings.items()
            if dictionaries[name]
        ),
    ]
    return "\n".join(lines) + "\n"


def schemathesis(
    platform: LocalPlatform, who: Member, config: str, folder: Path, *filters: str
) -> Run:
    """`st run` with every check and phase against the platform's gateway, signed in as `who`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "schemathesis.toml").write_text(config)
    st = Path(sys.executable).with_name("st")
    args = [str(st), "--config-file", str(folder / "schemathesis.toml"), "run"]
    args += [f"{platform.gateway}/openapi.json", "--checks", "all", "--seed", SEED]
    args += ["-H", f"Authorization: Bearer {who.access_token}", "--workers", "1", *filters]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.security.schemathesis_hooks",
        "PYTHONPATH": str(REPO),
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        args, cwd=folder, env=env, capture_output=True, text=True, timeout=3600, check=False
    )
    output = done.stdout + done.stderr
    (folder / "output.txt").write_text(output)
    counts = re.search(r"(\d+) generated, (?:(\d+) passed)?", output)
    generated = int(counts.group(1)) if counts else 0
    passed = int(counts.group(2) or 0) if counts else 0
    return Run(done.returncode, generated, passed, output)


def assert_kept(run: Run, role: str) -> None:
    assert run.exit_code == 0, f"schemathesis as {role}:\n{run.output[-20_000:]}"
    assert run.generated > 0 and run.passed == run.generated, run.output[-5000:]
    print(f"\nschemathesis as {role}: {run.passed} of {run.generated} cases passed")


def signed_up(make: Callable[[], Member]) -> Member:
    """A role's account; sign-up hashes a password, which a busy machine may not finish
    within the gateway's deadline (503): try again a little later."""
    for attempt in range(3):
        try:
            return make()
        except (AssertionError, subprocess.TimeoutExpired):
            if attempt == 2:
                raise
            time.sleep(5)
    raise AssertionError("unreachable")


def own_profiles(platform: LocalPlatform, who: Member) -> list[str]:
    listed = httpx.get(f"{platform.gateway}/api/v1/profiles", headers=who.headers, timeout=30)
    return [str(p["id"]) for p in listed.json()["items"]]


@pytest.mark.parametrize("kids", [False, True], ids=["member", "kids-member"])
def test_the_api_keeps_its_contract_for_members(
    platform: LocalPlatform,
    accounts: dict[str, Member],
    playable_title: str,
    kids: bool,
    tmp_path: Path,
) -> None:
    """A member's operations (the admin's and the chaos buttons are another role's)."""
    who = accounts["kids-member" if kids else "member"]
    config = config_for(
        profiles=own_profiles(platform, who),
        titles=[playable_title, "demo-velvet-thunder"],
        coverage=LONG_RUN,
    )
    run = schemathesis(platform, who, config, tmp_path, "--exclude-path-regex", MEMBER_ONLY)
    assert_kept(run, "a kids profile's member" if kids else "a member")


def test_the_api_keeps_its_contract_for_admins(
    platform: LocalPlatform, accounts: dict[str, Member], playable_title: str, tmp_path: Path
) -> None:
    """Every operation but the chaos buttons, whose kills would leave the rest of the run
    talking to stopped services (they have their own test below)."""
    boss = accounts["admin"]
    config = config_for(profiles=[], titles=[playable_title, "demo-velvet-thunder"], coverage=True)
    run = schemathesis(
        platform, boss, config, tmp_path, "--exclude-path-regex", "^/api/v1/ops/chaos"
    )
    assert_kept(run, "an admin")


CHAOS_SERVICES = ["registry", "identity", "recommender", "gateway"]


@pytest.fixture
def chaos_platform(backend: Backend, tmp_path: Path) -> Iterator[LocalPlatform]:
    """A platform for the chaos buttons alone: what they kill and slow is nobody else's."""
    running = LocalPlatform(
        tmp_path / "chaos", services=CHAOS_SERVICES, env={**backend.env, **FUZZ_ENV}
    ).start(timeout_s=300)
    yield running
    running.stop()


def test_the_chaos_operations_keep_their_contract(
    chaos_platform: LocalPlatform, tmp_path: Path
) -> None:
    boss = signed_up(lambda: admin(chaos_platform))
    config = config_for(profiles=[], titles=[], coverage=True)
    run = schemathesis(
        chaos_platform, boss, config, tmp_path / "st", "--include-path-regex", "^/api/v1/ops/chaos"
    )
    assert_kept(run, "an admin pressing the chaos buttons")
