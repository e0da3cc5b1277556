"""The web app's modules parse as ES modules, and the player's decisions (skip intro, the
next-episode countdown, the next episode, audio and subtitle languages) hold: node's own test
runner on tests/web/player_rules.test.mjs, no browser and no platform."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
WEB = HERE.parents[1] / "src" / "cinemesh" / "services" / "gateway" / "web"
MODULES = sorted(p.relative_to(WEB).as_posix() for p in WEB.rglob("*.js"))


def node() -> str:
    found = shutil.which("node")
    assert found, "node is needed for the web app's tests (`make install` uses it for npm)"
    return found


@pytest.mark.parametrize("module", MODULES)
def test_every_module_parses_as_an_es_module(module: str, tmp_path: Path) -> None:
    copy = tmp_path / "module.mjs"  # .mjs: parsed as a module whatever package.json says
    copy.write_text((WEB / module).read_text())
    checked = subprocess.run(
        [node(), "--check", str(copy)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, f"{module}: {checked.stderr}"


def test_the_players_decisions_hold() -> None:
    ran = subprocess.run(
        [node(), "--test", str(HERE / "player_rules.test.mjs")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
    assert "# fail 0" in ran.stdout and "# pass 0" not in ran.stdout
