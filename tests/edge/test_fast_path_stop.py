"""The fast path's stop, in process: a connection accepted a moment before the edge stops
accepting still has its request answered (closed at once as idle, its caller would see the
connection drop without an answer, as a rolling deploy's callers did with uvicorn)."""

from __future__ import annotations

import asyncio
import socket
from types import SimpleNamespace
from typing import Any, cast

from cinemesh.services.edge.fast_path import FastPath

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


async def answer_it(sock: socket.socket, _buffered: bytes) -> None:
    """Stands in for the application: answers whatever it is handed."""
    await asyncio.get_running_loop().sock_sendall(sock, ANSWER)
    sock.close()


async def started_fast_path() -> tuple[FastPath, int]:
    edge = SimpleNamespace(key=b"k" * 32)  # every path fails its check: handed over
    fast = FastPath(cast(Any, edge), hand_over=answer_it)
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    fast.start((listening,), backlog=16)
    return fast, listening.getsockname()[1]


async def ask_during_stop(*, accepted_grace_s: float) -> bytes:
    fast, port = await started_fast_path()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await asyncio.sleep(0.05)  # accepted, its request not sent yet
    stopping = asyncio.create_task(fast.stop(timeout_s=2, accepted_grace_s=accepted_grace_s))
    await asyncio.sleep(0.05)
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: edge\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=5)
    except ConnectionError:
        answer = b""
    finally:
        writer.close()
    await stopping
    return answer


async def test_a_connection_accepted_just_before_the_stop_gets_its_answer() -> None:
    assert await ask_during_stop(accepted_grace_s=0.25) == ANSWER


async def test_without_the_grace_that_connection_is_dropped_unanswered() -> None:
    """What the grace is for: the same connection, closed as idle the moment the stop begins."""
    assert await ask_during_stop(accepted_grace_s=0.0) == b""
