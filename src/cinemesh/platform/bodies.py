"""Request bodies taken as the client sent them: a wrong type is a 422 that names the field,
never a value quietly coerced (`"available": 0` is not a boolean, `"3"` is not a number).
JSON's integers still count as numbers where a float is asked for."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestBody(BaseModel):
    """The base of every JSON body an API accepts, public or internal."""

    model_config = ConfigDict(strict=True)
