"""What a client in a typed language needs of every timestamp the API returns: RFC 3339, with
its offset (a moment without one is read as local time, or not at all)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# Anything that starts like a date and a time of day is meant as a timestamp.
LOOKS_LIKE_A_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T t_]\d{2}:\d{2}")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def moments(document: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every (JSON path, value) in `document` whose value is a timestamp."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield from moments(value, f"{where}/{key}")
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from moments(value, f"{where}/{index}")
    elif isinstance(document, str) and LOOKS_LIKE_A_MOMENT.match(document):
        yield where or "/", document


def without_offset(document: Any) -> list[str]:
    """The timestamps in `document` that are not RFC 3339 with an offset, as `path: value`."""
    return [f"{path}: {value}" for path, value in moments(document) if not RFC3339.match(value)]
