"""Callers needing the same key while it is fetched share one fetch."""

from __future__ import annotations

import asyncio

import pytest

from cinemesh.platform.single_flight import SingleFlight


async def test_callers_meanwhile_share_one_fetch_and_later_ones_fetch_anew() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    fetches = 0

    async def fetch() -> int:
        nonlocal fetches
        fetches += 1
        await asyncio.sleep(0.01)
        return fetches

    assert await asyncio.gather(*(flight.run("k", fetch) for _ in range(20))) == [1] * 20
    assert await flight.run("k", fetch) == 2
    assert not flight.running("k")


async def test_a_caller_that_gives_up_does_not_cancel_the_fetch_for_the_others() -> None:
    flight: SingleFlight[str, str] = SingleFlight()

    async def fetch() -> str:
        await asyncio.sleep(0.05)
        return "done"

    patient = asyncio.ensure_future(flight.run("k", fetch))
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await flight.run("k", fetch)
    assert await patient == "done"


async def test_a_failure_reaches_every_waiter_and_is_not_kept() -> None:
    flight: SingleFlight[str, str] = SingleFlight()

    async def failing() -> str:
        await asyncio.sleep(0.01)
        raise ValueError("dependency said no")

    results = await asyncio.gather(
        *(flight.run("k", failing) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, ValueError) for r in results)

    async def working() -> str:
        return "ok"

    assert await flight.run("k", working) == "ok"


async def test_a_fetch_nobody_waits_for_still_runs_and_its_failure_is_not_reported_unretrieved(
    recwarn: pytest.WarningsRecorder,
) -> None:
    flight: SingleFlight[str, str] = SingleFlight()
    ran = asyncio.Event()

    async def background() -> str:
        ran.set()
        raise ValueError("no one is listening")

    flight.start("k", background)
    await asyncio.wait_for(ran.wait(), 1)
    await asyncio.sleep(0)
    assert not flight.running("k")


async def test_a_batch_asks_only_for_keys_no_other_batch_is_fetching() -> None:
    flight: SingleFlight[str, dict[str, str]] = SingleFlight()
    asked: list[list[str]] = []

    async def fetch(keys: list[str]) -> dict[str, str]:
        asked.append(keys)
        await asyncio.sleep(0.01)
        return {key: key.upper() for key in keys}

    first, second = await asyncio.gather(
        flight.run_batch(["a", "b"], fetch), flight.run_batch(["b", "c"], fetch)
    )
    assert asked == [["a", "b"], ["c"]]
    assert first == [{"a": "A", "b": "B"}]
    assert {k: v for batch in second for k, v in batch.items()}.items() >= {
        "b": "B",
        "c": "C",
    }.items()
    assert not any(flight.running(key) for key in "abc")
