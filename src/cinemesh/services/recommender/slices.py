"""Work done a slice at a time: a generator that yields between slices of about a millisecond
and returns its result. The serving process runs one between requests (`between_requests`), so
that a request waits for one slice at most, never for the whole of the work; anything else
runs it at once (`at_once`)."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import TypeVar

T = TypeVar("T")
Sliced = Generator[None, None, T]


def at_once(steps: Sliced[T]) -> T:
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


async def between_requests(steps: Sliced[T]) -> T:
    """Run the slices on the event loop, letting whatever is ready run after each one."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        await asyncio.sleep(0)
