"""The open-loop generator behaves as an HTTP/1.1 client must on keep-alive connections: it
never sends again on a connection whose answer said `Connection: close`, and it sends a GET
once more, on a new connection, when a reused connection is closed before any byte of its
answer (the server closed it as idle just as the request left). Without either, a draining
server's callers would be counted as failed by the load that measures the drain."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from cinemesh.benchsuite.openloop import OpenLoop, Phase, Request

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bool:
    try:
        await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return False
    return True


async def answers_then_closes_late(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Every answer says close; the close itself comes a little later, and a request sent on
    the connection meanwhile is dropped."""
    if await read_request(reader):
        writer.write(OK + b"Connection: close\r\n\r\nok")
        await writer.drain()
        await asyncio.sleep(0.2)
    writer.close()


async def closes_the_second_request_unanswered(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Answers one request kept alive, then closes as if idle when the next arrives."""
    if await read_request(reader):
        writer.write(OK + b"\r\nok")
        await writer.drain()
        await read_request(reader)
    writer.close()


async def statuses(handler: Handler) -> dict[str, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        load = OpenLoop(f"http://127.0.0.1:{port}", [Request("GET", "/")], timeout_s=2.0)
        report = await load.run([Phase(1.0, 40.0)])
    seconds = report["per_second"]
    return {key: sum(s[key] for s in seconds) for key in ("offered", "ok", "failed")}


async def test_a_connection_whose_answer_said_close_is_not_used_again() -> None:
    seen = await statuses(answers_then_closes_late)
    assert seen["offered"] > 20 and seen["failed"] == 0, seen


async def test_a_get_on_a_reused_connection_closed_unanswered_is_sent_once_more() -> None:
    seen = await statuses(closes_the_second_request_unanswered)
    assert seen["offered"] > 20 and seen["failed"] == 0 and seen["ok"] == seen["offered"], seen


async def test_connections_opened_ahead_carry_the_load_without_new_handshakes() -> None:
    accepted_at: list[float] = []
    loop = asyncio.get_running_loop()

    async def answers_kept_alive(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        accepted_at.append(loop.time())
        while await read_request(reader):
            writer.write(OK + b"\r\nok")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answers_kept_alive, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        load = OpenLoop(f"http://127.0.0.1:{port}", [Request("GET", "/")], timeout_s=2.0)
        report = await load.run([Phase(1.0, 200.0)], open_ahead=30)
    seconds = report["per_second"]
    assert sum(s["ok"] for s in seconds) == sum(s["offered"] for s in seconds) > 100
    assert len(accepted_at) >= 30
    assert all(at <= load.started for at in accepted_at), "a connection was opened on the clock"


async def test_each_failure_is_named_in_its_second() -> None:
    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(3.0)
        writer.close()

    server = await asyncio.start_server(never_answers, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        load = OpenLoop(f"http://127.0.0.1:{port}", [Request("GET", "/")], timeout_s=0.5)
        report = await load.run([Phase(1.0, 20.0)])
    failures = [s.get("failures", {}) for s in report["per_second"]]
    assert (
        sum(f.get("timed out", 0) for f in failures)
        == sum(s["offered"] for s in report["per_second"])
        > 5
    ), failures
