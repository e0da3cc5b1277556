"""Releases for `cinemesh deploy`: a git revision of this repository checked out as a worktree
under the data dir, run by the same virtual environment, and the gates a release must pass
before any instance of it starts (its dependencies installed here; expand/contract migrations)."""

from __future__ import annotations

import ast
import subprocess
import time
import tomllib
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from cinemesh.runner.layout import Layout

# what a migration may not do while the previous release still runs beside it
CONTRACTING_OPS = frozenset({"drop_column", "drop_table", "rename_table"})


class ReleaseError(Exception):
    """A release that cannot be built or must not be deployed; the message says why."""


@dataclass(frozen=True)
class Release:
    name: str  # the revision's short hash, the name instances report as their version
    ref: str
    commit: str
    src: str  # the worktree's `src` folder, first on the instances' PYTHONPATH
    built_at: float

    def view(self) -> dict[str, Any]:
        return asdict(self)


def repository_root() -> Path:
    """The checkout this CLI runs from (releases are revisions of it)."""
    here = Path(__file__).resolve().parent
    root = _git(here, "rev-parse", "--show-toplevel")
    return Path(root)


def build_release(layout: Layout, ref: str, *, repo: Path | None = None) -> Release:
    repo = repo or repository_root()
    commit = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    name = commit[:12]
    tree = layout.data_dir / "releases" / name
    if not (tree / "src" / "cinemesh").is_dir():
        tree.parent.mkdir(parents=True, exist_ok=True)
        _git(repo, "worktree", "prune")
        _git(repo, "worktree", "add", "--force", "--detach", str(tree), commit)
    check_dependencies_installed(repository_root(), tree)
    return Release(name=name, ref=ref, commit=commit, src=str(tree / "src"), built_at=time.time())


def check_dependencies_installed(running: Path, release: Path) -> None:
    """The release runs in this virtual environment, so every package it requires, and every
    pin it changed, must be installed here already."""
    changed_pins = _pins(release) - _pins(running)
    wanted = [*_dependencies(release), *sorted(changed_pins)]
    missing = [req for req in wanted if not _installed(req)]
    if missing:
        raise ReleaseError(
            "this release needs packages this virtual environment does not have "
            f"({', '.join(missing)}); it cannot share it: install them first "
            "(`make install` on that revision), then deploy again"
        )


def _dependencies(tree: Path) -> list[str]:
    project = tomllib.loads((tree / "pyproject.toml").read_text())["project"]
    return list(project.get("dependencies", []))


def _pins(tree: Path) -> set[str]:
    pins = tree / "constraints.txt"
    lines = pins.read_text().splitlines() if pins.exists() else []
    return {line.split("#")[0].strip() for line in lines} - {""}


def _installed(requirement: str) -> bool:
    wanted = Requirement(requirement)
    if wanted.marker is not None and not wanted.marker.evaluate():
        return True
    try:
        have = metadata.version(wanted.name)
    except metadata.PackageNotFoundError:
        return False
    return wanted.specifier.contains(have, prereleases=True)


def check_expand_only(service: str, running_src: Path, release_src: Path) -> None:
    """Refuse a release whose new migrations drop or rename what the running release reads:
    the two run side by side during a deploy, so a migration may only add (expand); the
    removal (contract) ships in a later release, once nothing reads the old shape."""
    folder = Path("cinemesh") / "services" / service / "migrations" / "versions"
    known = {p.name for p in (running_src / folder).glob("*.py")}
    for path in sorted((release_src / folder).glob("*.py")):
        if path.name in known:
            continue
        for what in contracting_operations(path.read_text()):
            raise ReleaseError(
                f"migration {path.name} of {service} {what}, which the running release still "
                "reads; ship the code that stops reading it first, and the drop in a later "
                "release (expand/contract, docs/contributing.md)"
            )


def contracting_operations(source: str) -> list[str]:
    """What an Alembic revision's upgrade() removes or renames, in words."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.FunctionDef) and node.name == "upgrade"):
            continue
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
                found += _describe(call)
    return found


def _describe(call: ast.Call) -> list[str]:
    op = call.func.attr if isinstance(call.func, ast.Attribute) else ""
    args = [a.value for a in call.args if isinstance(a, ast.Constant)]
    if op in CONTRACTING_OPS:
        return [f"{op.replace('_', 's ', 1)} {' '.join(map(str, args))}".strip()]
    renamed = [k for k in call.keywords if k.arg == "new_column_name"]
    if op == "alter_column" and renamed:
        return [f"renames column {' '.join(map(str, args))}".strip()]
    return []


class ReleaseBook:
    """Which releases each service has run, newest last (`cinemesh releases SERVICE`)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.path = layout.data_dir / "releases" / "book.json"

    def read(self) -> dict[str, list[dict[str, Any]]]:
        import orjson

        try:
            return dict(orjson.loads(self.path.read_bytes()))
        except (FileNotFoundError, orjson.JSONDecodeError):
            return {}

    def history(self, service: str) -> list[dict[str, Any]]:
        return list(self.read().get(service, []))

    def record(self, service: str, entry: dict[str, Any]) -> None:
        book = self.read()
        book.setdefault(service, []).append(entry)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.layout.write_json(self.path, book)

    def previous(self, service: str) -> dict[str, Any] | None:
        """The release that ran before the current one (what a rollback returns to)."""
        live = [e for e in self.history(service) if e.get("outcome") == "promoted"]
        return live[-2] if len(live) >= 2 else None


def _git(where: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(where), *args], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReleaseError(f"git failed: {exc}") from None
    if done.returncode != 0:
        what = done.stderr.strip() or done.stdout.strip() or f"git {' '.join(args)} failed"
        if args[:1] == ("rev-parse",) and "--verify" in args:
            what = f"no revision {args[-1].removesuffix('^{commit}')!r} in {where}"
        raise ReleaseError(what)
    return done.stdout.strip()
