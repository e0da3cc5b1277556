"""Request bodies taken as the client sent them: a wrong type is a 422 that names the field,
never a value quietly coerced (`"available": 0` is not a boolean, `"3"` is not a number).
Numbers keep JSON's meaning: an integer is a number where a float is asked for, and a number
with no fraction (`510.0`) is an integer, as JSON Schema's `integer` says."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class RequestBody(BaseModel):
    """The base of every JSON body an API accepts, public or internal."""

    model_config = ConfigDict(strict=True)

    @model_validator(mode="before")
    @classmethod
    def json_numbers(cls, data: Any) -> Any:
        return whole_numbers(data)


def whole_numbers(value: Any) -> Any:
    """`value` with every float that has no fraction made an int, however deep."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value
