"""Every event schema in cinemesh.contracts is versioned, and a consumer of version N reads a
payload of version N-1 (no field it needs is new) and of N+1 (unknown fields are ignored)."""

from __future__ import annotations

import inspect
import json
import pkgutil
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import cinemesh.contracts as contracts
from cinemesh.runner.contract_gate import event_breaks


def event_models() -> list[type[BaseModel]]:
    found = []
    for info in pkgutil.iter_modules(contracts.__path__):
        module = import_module(f"cinemesh.contracts.{info.name}")
        for _, kind in inspect.getmembers(module, inspect.isclass):
            if issubclass(kind, BaseModel) and isinstance(getattr(kind, "TYPE", None), str):
                found.append(kind)
    return sorted(set(found), key=lambda k: k.TYPE)


def sample(model: type[BaseModel]) -> dict[str, Any]:
    """A valid payload with every required field, as the current publisher would send."""
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if not field.is_required():
            continue
        values[name] = example_of(field.annotation)
    return model.model_validate(values).model_dump(mode="json")


def example_of(annotation: Any) -> Any:
    text = str(annotation)
    if annotation is bool:
        return True
    if annotation is int:
        return 1
    if annotation is float:
        return 1.0
    if "list" in text:
        return []
    if "dict" in text:
        return {}
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return sample(annotation)
    if "Literal" in text:
        return annotation.__args__[0]
    return "x"


MODELS = event_models()


def test_there_are_event_contracts_and_each_has_a_type_and_version() -> None:
    assert len(MODELS) >= 10
    for model in MODELS:
        assert isinstance(model.VERSION, int) and model.VERSION >= 1, model  # type: ignore[attr-defined]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.TYPE)
def test_a_consumer_reads_the_next_version_with_fields_it_does_not_know(
    model: type[BaseModel],
) -> None:
    newer = {**sample(model), "added_in_a_later_version": {"any": "thing"}}
    assert model.model_validate(newer)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.TYPE)
def test_a_consumer_reads_the_previous_version_without_its_optional_fields(
    model: type[BaseModel],
) -> None:
    older = {k: v for k, v in sample(model).items() if model.model_fields[k].is_required()}
    assert model.model_validate(older)


RECORDED = Path(__file__).parent / "recorded_event_schemas.json"


def current_schemas() -> dict[str, Any]:
    return {model.TYPE: model.model_json_schema() for model in MODELS}  # type: ignore[attr-defined]


def test_every_event_schema_reads_and_is_read_by_the_recorded_version() -> None:
    """The schemas as last released (recorded_event_schemas.json) and as they are now must be
    compatible both ways. After a deliberate, versioned change, record them again with
    `python -m tests.platform.test_event_contracts`."""
    recorded = json.loads(RECORDED.read_text())
    assert event_breaks(recorded, current_schemas()) == []


if __name__ == "__main__":
    RECORDED.write_text(json.dumps(current_schemas(), indent=1, sort_keys=True) + "\n")
