"""The contract gate of `cinemesh deploy`: a new release may not break its callers.

Both releases are asked for their contracts in a subprocess that imports only their own code
(the service's OpenAPI document from `create_app()`, every event schema in
`cinemesh.contracts`), and the two are compared:
- API: an operation removed; a response field removed or of another type; a request field, or
  a query parameter, newly required.
- Events it publishes: a consumer of either release must read the other's payloads, so a
  field may be added with a default and nothing else: no field removed, none retyped, none
  newly required.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

SNAPSHOT = """
import inspect, json, pkgutil, importlib, sys
import cinemesh.contracts as contracts
from pydantic import BaseModel
service = sys.argv[1]
events = {}
for info in pkgutil.iter_modules(contracts.__path__):
    module = importlib.import_module(f"cinemesh.contracts.{info.name}")
    for _, kind in inspect.getmembers(module, inspect.isclass):
        if issubclass(kind, BaseModel) and isinstance(getattr(kind, "TYPE", None), str):
            events[kind.TYPE] = kind.model_json_schema()
app = importlib.import_module(f"cinemesh.services.{service}.app").create_app()
openapi = app.openapi() if hasattr(app, "openapi") else {}
print(json.dumps({"openapi": openapi, "events": events}))
"""
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
# Reading a release's contracts imports a whole service twice over, seconds of CPU: run below
# the instances serving members, so that a deploy on a busy machine does not make their
# calls miss their deadlines (as the recommender's trainer runs below serving).
GATE_NICENESS = 10
# the event types a service publishes, where they are not named after it
PUBLISHES = {"encoder": ("media.",)}


class ContractError(Exception):
    pass


def snapshot(service: str, src: str) -> dict[str, Any]:
    """The contracts of `service` as the code under `src` (a release's `src` folder) has them."""
    with tempfile.TemporaryDirectory(prefix="cinemesh-contracts-") as data_dir:
        env = {**os.environ, "PYTHONPATH": src, "CINEMESH_DATA_DIR": data_dir}
        env.pop("CINEMESH_RELEASE", None)
        done = subprocess.run(
            [sys.executable, "-c", SNAPSHOT, service],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=_below_serving,
        )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ContractError(f"could not read the contracts of {service} from {src}: {last}")
    return dict(json.loads(done.stdout))


def _below_serving() -> None:
    os.nice(GATE_NICENESS)


def breaking_changes(service: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What would break the callers of `service` and the consumers of the events it publishes
    (the other services keep running their own release, with their own copy of the schemas)."""
    prefixes = PUBLISHES.get(service, (f"{service}.",))
    ours = {kind: schema for kind, schema in old["events"].items() if kind.startswith(prefixes)}
    return [*api_breaks(old["openapi"], new["openapi"]), *event_breaks(ours, new["events"])]


def api_breaks(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for path, operations in old.get("paths", {}).items():
        for method, before in operations.items():
            if method not in HTTP_METHODS:
                continue
            name = f"{method.upper()} {path}"
            after = new.get("paths", {}).get(path, {}).get(method)
            if after is None:
                found.append(f"{name}: the operation was removed")
                continue
            found += _response_breaks(name, old, before, new, after)
            found += _request_breaks(name, old, before, new, after)
    return found


def _response_breaks(
    name: str,
    old: dict[str, Any],
    before: dict[str, Any],
    new: dict[str, Any],
    after: dict[str, Any],
) -> list[str]:
    found: list[str] = []
    for status, answer in before.get("responses", {}).items():
        if not str(status).startswith("2"):
            continue
        old_schema = _json_schema(answer)
        new_schema = _json_schema(after.get("responses", {}).get(status, {}))
        if old_schema is None:
            continue
        if new_schema is None:
            found.append(f"{name}: the {status} answer no longer has a JSON body")
            continue
        for problem in _shape_breaks(old, old_schema, new, new_schema, "response field"):
            found.append(f"{name}: {problem}")
    return found


def _request_breaks(
    name: str,
    old: dict[str, Any],
    before: dict[str, Any],
    new: dict[str, Any],
    after: dict[str, Any],
) -> list[str]:
    found: list[str] = []
    was_required = {p["name"] for p in before.get("parameters", []) if p.get("required")}
    for param in after.get("parameters", []):
        if param.get("required") and param["name"] not in was_required:
            found.append(f"{name}: parameter `{param['name']}` is newly required")
    old_body = _json_schema(before.get("requestBody", {}))
    new_body = _json_schema(after.get("requestBody", {}))
    if old_body is not None and new_body is not None:
        old_fields = _resolve(old, old_body)
        new_fields = _resolve(new, new_body)
        for field in set(new_fields.get("required", [])) - set(old_fields.get("required", [])):
            found.append(f"{name}: request field `{field}` is newly required")
    return found


def event_breaks(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for event_type, before in old.items():
        after = new.get(event_type)
        if after is None:
            found.append(f"event {event_type}: its schema was removed")
            continue
        problems = _shape_breaks(before, before, after, after, "field")
        newly = set(after.get("required", [])) - set(before.get("required", []))
        problems += [f"field `{field}` is newly required" for field in sorted(newly)]
        found += [f"event {event_type}: {problem}" for problem in problems]
    return found


def _shape_breaks(
    old_doc: dict[str, Any],
    old_schema: dict[str, Any],
    new_doc: dict[str, Any],
    new_schema: dict[str, Any],
    what: str,
    prefix: str = "",
) -> list[str]:
    """Fields of the old shape gone or retyped in the new one, walking nested objects."""
    before = _resolve(old_doc, old_schema)
    after = _resolve(new_doc, new_schema)
    found: list[str] = []
    old_type, new_type = _type_of(before), _type_of(after)
    if old_type and new_type and old_type != new_type:
        label = prefix or "the body"
        return [f"{what} `{label}` changed type from {old_type} to {new_type}"]
    if old_type == "array" and "items" in before and "items" in after:
        return _shape_breaks(old_doc, before["items"], new_doc, after["items"], what, f"{prefix}[]")
    new_fields = after.get("properties", {})
    for field, schema in before.get("properties", {}).items():
        dotted = f"{prefix}.{field}" if prefix else field
        if field not in new_fields:
            found.append(f"{what} `{dotted}` was removed")
            continue
        found += _shape_breaks(old_doc, schema, new_doc, new_fields[field], what, dotted)
    return found


def _json_schema(part: dict[str, Any]) -> dict[str, Any] | None:
    schema = part.get("content", {}).get("application/json", {}).get("schema")
    return schema if isinstance(schema, dict) and schema else None


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 20:
        *_, section, name = schema["$ref"].split("/")
        container = doc.get("components", {}).get(section) or doc.get(section, {})
        schema = container.get(name, {})
        seen += 1
    return schema


def _type_of(schema: dict[str, Any]) -> str:
    if "type" in schema:
        return str(schema["type"])
    options = schema.get("anyOf") or schema.get("oneOf") or []
    kinds = sorted({str(o.get("type")) for o in options if "type" in o})
    return "|".join(kinds)
