"""The contract gate: what breaks a caller or a consumer is named; what only adds is let by."""

from __future__ import annotations

from typing import Any

from cinemesh.runner.contract_gate import api_breaks, event_breaks


def openapi(
    response_props: dict[str, Any], *, required_body: list[str] | None = None
) -> dict[str, Any]:
    return {
        "paths": {
            "/v1/profiles/{id}": {
                "get": {
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/View"}
                                }
                            }
                        }
                    }
                },
                "patch": {
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "required": required_body or []}
                            }
                        }
                    },
                    "responses": {},
                },
            }
        },
        "components": {"schemas": {"View": {"type": "object", "properties": response_props}}},
    }


VIEW = {
    "id": {"type": "string"},
    "maturity": {"type": "string"},
    "tags": {"type": "array", "items": {"type": "string"}},
}


def test_a_removed_response_field_is_named() -> None:
    narrower = {k: v for k, v in VIEW.items() if k != "maturity"}
    assert api_breaks(openapi(VIEW), openapi(narrower)) == [
        "GET /v1/profiles/{id}: response field `maturity` was removed"
    ]


def test_a_retyped_response_field_is_named() -> None:
    retyped = {**VIEW, "tags": {"type": "string"}}
    (problem,) = api_breaks(openapi(VIEW), openapi(retyped))
    assert "`tags` changed type from array to string" in problem


def test_an_added_field_or_operation_breaks_nothing() -> None:
    wider = openapi({**VIEW, "language": {"type": "string"}})
    wider["paths"]["/v1/new"] = {"get": {"responses": {}}}
    assert api_breaks(openapi(VIEW), wider) == []


def test_a_removed_operation_and_a_newly_required_request_field_are_named() -> None:
    stricter = openapi(VIEW, required_body=["name"])
    del stricter["paths"]["/v1/profiles/{id}"]["get"]
    assert api_breaks(openapi(VIEW), stricter) == [
        "GET /v1/profiles/{id}: the operation was removed",
        "PATCH /v1/profiles/{id}: request field `name` is newly required",
    ]


def event(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "profiles.profile.upserted": {
            "type": "object",
            "properties": properties,
            "required": required,
        }
    }


def test_an_event_field_removed_or_newly_required_is_named() -> None:
    before = event(
        {"profile_id": {"type": "string"}, "kids": {"type": "boolean"}}, ["profile_id", "kids"]
    )
    removed = event({"profile_id": {"type": "string"}}, ["profile_id"])
    assert event_breaks(before, removed) == [
        "event profiles.profile.upserted: field `kids` was removed"
    ]
    required = event(
        {"profile_id": {"type": "string"}, "kids": {"type": "boolean"}, "plan": {"type": "string"}},
        ["profile_id", "kids", "plan"],
    )
    assert event_breaks(before, required) == [
        "event profiles.profile.upserted: field `plan` is newly required"
    ]


def test_an_event_field_added_with_a_default_breaks_nothing() -> None:
    before = event({"profile_id": {"type": "string"}}, ["profile_id"])
    after = event(
        {"profile_id": {"type": "string"}, "language": {"type": "string"}}, ["profile_id"]
    )
    assert event_breaks(before, after) == []
