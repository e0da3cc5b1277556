"""The pact gate of `cinemesh deploy`: Pact's can-i-deploy, with the repository as the broker.

The gateway's consumer-driven contracts live beside the code (`tests/contracts/pacts/
gateway-<provider>.json`): the gateway's consumer tests write them, and each provider's
verification replays them against that provider (`tests/contracts/`). So the pacts a revision
carries are the ones its providers were verified against in its CI run. A deploy mixes
revisions (one service moves, the rest keep theirs), and this gate checks that the mix was
verified:
- deploying a provider: every interaction in the running gateway's pact with it must be in the
  release's pact, with the same request and provider state, the same status, and at least the
  response headers, fields, types and matching rules the running gateway reads;
- deploying the gateway: each of the release's pacts must be covered, in the same way, by the
  pact the running provider's revision carries.

What it does not do is replay the pacts against the release's instance: a pact's provider states
are made for real (accounts, profiles, titles put into catalog, events published), which the
running platform's databases and bus must never get (docs/deploy.md, "The pact gate"). It also
trusts the revision's CI: a pact file that was committed but never verified proves nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

CONSUMER = "gateway"
PACTS = Path("tests") / "contracts" / "pacts"


def pacts_in(tree: Path) -> Path | None:
    """The pacts folder of a revision's tree; None when the tree has none (an installed
    package rather than a checkout, or a revision from before the pacts)."""
    folder = tree / PACTS
    return folder if folder.is_dir() else None


def pact_breaks(
    service: str, *, release_tree: Path, running_tree: Callable[[str], Path]
) -> list[str]:
    """What the gateway would ask that no verified pact covers if `service` moved to the
    release in `release_tree`; `running_tree(name)` is the tree of the revision a service runs."""
    release = pacts_in(release_tree)
    if service == CONSUMER:
        if release is None:
            return []
        found: list[str] = []
        for needed in sorted(release.glob(f"{CONSUMER}-*.json")):
            provider = needed.stem.removeprefix(f"{CONSUMER}-")
            running = pacts_in(running_tree(provider))
            if running is None:
                continue
            whose = f"the release's pact with {provider}"
            found += _covered(whose, needed, running / needed.name, f"the running {provider}")
        return found
    gateway = pacts_in(running_tree(CONSUMER))
    if gateway is None:
        return []
    needed = gateway / f"{CONSUMER}-{service}.json"
    if not needed.exists():
        return []  # the running gateway does not call it
    promised = (release or release_tree / PACTS) / needed.name
    return _covered(f"the running gateway's pact with {service}", needed, promised, "the release")


def _covered(whose: str, needed: Path, promised: Path, verified: str) -> list[str]:
    if not promised.exists():
        return [f"{whose}: {verified} carries no pact {needed.name}, so nothing was verified"]
    try:
        wanted = json.loads(needed.read_text())["interactions"]
        offered = json.loads(promised.read_text())["interactions"]
    except (OSError, ValueError, KeyError) as unreadable:
        return [f"{whose}: cannot read the pacts ({unreadable!r})"]
    return [f"{whose}, {problem}" for problem in uncovered(wanted, offered)]


def uncovered(wanted: list[dict[str, Any]], offered: list[dict[str, Any]]) -> list[str]:
    """Each interaction of `wanted` that `offered` does not cover, and why, in words."""
    by_request = {_request_key(i): i for i in offered}
    found: list[str] = []
    for interaction in wanted:
        request = interaction.get("request", {})
        name = f'"{interaction.get("description")}" ({request.get("method")} {request.get("path")})'
        match = by_request.get(_request_key(interaction))
        if match is None:
            found.append(f"{name}: no verified interaction makes this request in this state")
            continue
        found += [f"{name}: {gap}" for gap in _response_gaps(interaction, match)]
    return found


def _request_key(interaction: dict[str, Any]) -> str:
    states = sorted(str(s.get("name")) for s in interaction.get("providerStates", []))
    return json.dumps([interaction.get("request", {}), states], sort_keys=True)


def _response_gaps(wanted: dict[str, Any], offered: dict[str, Any]) -> list[str]:
    need, have = wanted.get("response", {}), offered.get("response", {})
    if need.get("status") != have.get("status"):
        return [f"answers {have.get('status')} where {need.get('status')} is expected"]
    gaps = [
        f"response header `{name}` is no longer {value!r}"
        for name, value in (need.get("headers") or {}).items()
        if _lower_keys(have.get("headers") or {}).get(name.lower()) != value
    ]
    need_fields = _fields(_content(need))
    have_fields = _fields(_content(have))
    for path, kind in need_fields.items():
        if path not in have_fields:
            gaps.append(f"response field `{path}` is not in it")
        elif have_fields[path] != kind:
            gaps.append(f"response field `{path}` changed type from {kind} to {have_fields[path]}")
    need_rules = _body_rules(need)
    have_rules = _body_rules(have)
    for path, rule in need_rules.items():
        if path in have_rules and have_rules[path] != rule:
            field = _field_name(path)
            gaps.append(f"response field `{field}` is matched differently ({have_rules[path]})")
    return gaps


def _content(part: dict[str, Any]) -> Any:
    body = part.get("body")
    return body.get("content") if isinstance(body, dict) and "content" in body else None


def _fields(content: Any, prefix: str = "") -> dict[str, str]:
    """Every field of a JSON body by its dotted path (`items[].title`), with its JSON type."""
    found: dict[str, str] = {}
    if isinstance(content, dict):
        for key, value in content.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            found[path] = _json_type(value)
            found.update(_fields(value, path))
    elif isinstance(content, list):
        for value in content:
            found.update(_fields(value, f"{prefix}[]"))
    return found


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _body_rules(part: dict[str, Any]) -> dict[str, str]:
    rules = (part.get("matchingRules") or {}).get("body") or {}
    return {path: json.dumps(rule, sort_keys=True) for path, rule in rules.items()}


def _field_name(rule_path: str) -> str:
    """`$.items[*].title` as `items[].title`."""
    return rule_path.removeprefix("$").removeprefix(".").replace("[*]", "[]")


def _lower_keys(headers: dict[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in headers.items()}
