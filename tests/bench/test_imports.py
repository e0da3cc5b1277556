"""The benches reach a service only through its public module (`services/<name>/public.py`), as
the CLI and the bench suite must (`make contracts`). import-linter sees only the `cinemesh`
package, so this reads `bench/*.py` itself: every import, also one inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("cinemesh", "services")


def outside_public(module: str) -> bool:
    """A module of a service other than its public one (the package itself included)."""
    parts = tuple(module.split("."))
    return parts[:2] == SERVICES and not (len(parts) >= 4 and parts[3] == "public")


def service_internals(source: str) -> list[str]:
    """`line: module` for every import of a service module other than its public one, also
    one inside a function. In `from a.b import c`, `c` may be a submodule: it is checked as
    `a.b.c` unless `a.b` already names a module inside a service."""
    wrong = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            inside = node.module.split(".")[:2] == list(SERVICES)
            if inside and node.module.count(".") >= 3:
                modules = [node.module]
            else:
                modules = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        wrong += [f"{node.lineno}: {m}" for m in modules if outside_public(m)]
    return wrong


def test_the_benches_import_services_only_through_their_public_modules() -> None:
    scripts = sorted((REPO / "bench").glob("*.py"))
    assert len(scripts) >= 8
    wrong = {
        script.name: found
        for script in scripts
        if (found := service_internals(script.read_text(encoding="utf-8")))
    }
    assert wrong == {}, f"import these through cinemesh.services.<name>.public: {wrong}"


def test_an_import_of_a_service_internal_is_caught_in_every_form() -> None:
    for bad in (
        "from cinemesh.services.encoder.ffmpeg import run_ffmpeg",
        "import cinemesh.services.search.index",
        "import cinemesh.services.search.index as index",
        "from cinemesh.services.encoder import ffmpeg",
        "from cinemesh.services import encoder",
        "import cinemesh.services.encoder",
        "from cinemesh.services.encoder import *",
        "from cinemesh import services",
        "def main():\n    from cinemesh.services.catalog.service import Catalog\n",
    ):
        assert service_internals(bad), bad


def test_the_public_modules_and_everything_else_pass() -> None:
    for good in (
        "from cinemesh.services.encoder.public import probe, run_ffmpeg",
        "from cinemesh.services.encoder import public",
        "import cinemesh.services.search.public",
        "import cinemesh.services.search.public as search",
        "from cinemesh.runner.local import LocalPlatform",
        "from cinemesh.contracts.catalog import TitleUpserted",
        "import json",
        "from . import helpers",
    ):
        assert service_internals(good) == [], good
