"""The pact gate: a deploy that would leave the gateway asking for what no verified pact covers
is named, field by field; the committed pacts cover themselves, and a pact that asks less is
covered by one that asks more."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from cinemesh.runner.pact_gate import PACTS, pact_breaks, uncovered

COMMITTED = Path(__file__).resolve().parents[2] / PACTS


def tree_with(where: Path, edit: dict[str, Any] | None = None) -> Path:
    """A revision's tree holding the committed pacts, `edit` applied to the catalog one."""
    shutil.copytree(COMMITTED, where / PACTS)
    if edit is not None:
        (where / PACTS / "gateway-catalog.json").write_text(json.dumps(edit))
    return where


def catalog_pact() -> dict[str, Any]:
    return dict(json.loads((COMMITTED / "gateway-catalog.json").read_text()))


def title_page(pact: dict[str, Any]) -> dict[str, Any]:
    return next(i for i in pact["interactions"] if i["description"] == "a title's page")


def test_every_committed_pact_covers_itself() -> None:
    for pact in COMMITTED.glob("gateway-*.json"):
        interactions = json.loads(pact.read_text())["interactions"]
        assert uncovered(interactions, interactions) == [], pact.name


def test_a_provider_release_whose_pact_dropped_a_field_the_running_gateway_reads_is_named(
    tmp_path: Path,
) -> None:
    narrower = catalog_pact()
    del title_page(narrower)["response"]["body"]["content"]["synopsis"]
    running = tree_with(tmp_path / "running")
    release = tree_with(tmp_path / "release", narrower)

    found = pact_breaks("catalog", release_tree=release, running_tree=lambda _name: running)

    assert found == [
        "the running gateway's pact with catalog, \"a title's page\" "
        "(GET /v1/titles/t-contract-1): response field `synopsis` is not in it"
    ]


def test_a_gateway_release_asking_a_new_field_of_a_running_provider_is_named(
    tmp_path: Path,
) -> None:
    wider = catalog_pact()
    title_page(wider)["response"]["body"]["content"]["parental_guide"] = "mild peril"
    running = tree_with(tmp_path / "running")
    release = tree_with(tmp_path / "release", wider)

    found = pact_breaks("gateway", release_tree=release, running_tree=lambda _name: running)

    assert len(found) == 1
    assert found[0].startswith("the release's pact with catalog, \"a title's page\"")
    assert "`parental_guide` is not in it" in found[0]


def test_a_changed_request_status_or_type_is_named(tmp_path: Path) -> None:
    changed = catalog_pact()
    page = title_page(changed)
    page["response"]["body"]["content"]["year"] = "2020"
    genres = next(i for i in changed["interactions"] if i["description"] == "the genres")
    genres["response"]["status"] = 206
    batch = next(i for i in changed["interactions"] if i["description"].startswith("a batch"))
    batch["request"]["path"] = "/v2/titles/batch"

    found = uncovered(catalog_pact()["interactions"], changed["interactions"])

    assert any("`year` changed type from number to string" in f for f in found), found
    assert any("answers 206 where 200 is expected" in f for f in found), found
    assert any(
        f.startswith('"a batch of titles for the home rows" (POST /v1/titles/batch): no verified')
        for f in found
    ), found


def test_a_provider_release_promising_more_than_the_gateway_reads_passes(tmp_path: Path) -> None:
    wider = catalog_pact()
    title_page(wider)["response"]["body"]["content"]["parental_guide"] = "mild peril"
    running = tree_with(tmp_path / "running")
    release = tree_with(tmp_path / "release", wider)

    assert pact_breaks("catalog", release_tree=release, running_tree=lambda _: running) == []


def test_nothing_is_checked_where_the_running_gateway_has_no_pacts(tmp_path: Path) -> None:
    release = tree_with(tmp_path / "release", {"interactions": []})
    installed = tmp_path / "site-packages"  # a platform run from a wheel: no tests/ at all
    installed.mkdir()

    assert pact_breaks("catalog", release_tree=release, running_tree=lambda _: installed) == []
    assert pact_breaks("edge", release_tree=release, running_tree=lambda _: release) == []


def test_a_provider_release_without_the_pact_is_refused(tmp_path: Path) -> None:
    running = tree_with(tmp_path / "running")
    release = tmp_path / "release"
    (release / PACTS).mkdir(parents=True)

    found = pact_breaks("search", release_tree=release, running_tree=lambda _: running)

    assert found == [
        "the running gateway's pact with search: the release carries no pact "
        "gateway-search.json, so nothing was verified"
    ]
