"""Checks schemathesis runs beside its own on every answer of the gateway (loaded through
SCHEMATHESIS_HOOKS by test_fuzz_gateway.py, or by anyone running `st run` by hand)."""

from __future__ import annotations

from typing import Any

import schemathesis

from tests.support.timestamps import without_offset


@schemathesis.check
def timestamps_have_an_offset(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every timestamp in a JSON answer is RFC 3339 with its offset (a client in a typed
    language reads one without it as local time, or not at all)."""
    if "json" not in (response.headers.get("content-type") or [""])[0]:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    wrong = without_offset(body)
    assert not wrong, f"timestamps without an offset: {', '.join(wrong[:5])}"
    return None
