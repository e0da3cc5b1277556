"""The processes `cinemesh up` runs beside the services (the NATS nodes, Prometheus): each is
started and waited for until it answers, restarted with backoff when it dies as a service
instance is, and can be held down on purpose by chaos (`cinemesh chaos kill nats-server`)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from cinemesh.platform.errors import StartupError
from cinemesh.runner.processes import die_with_parent

MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 30.0


@dataclass
class InfraProcess:
    """One infrastructure process: `command`, ready once `ready_url` answers 200."""

    name: str
    index: int
    command: list[str]
    log_file: Path
    ready_url: str
    say: Any = print
    on_change: Callable[[], None] | None = None  # a start or an exit (the pids file)
    process: asyncio.subprocess.Process | None = None
    wanted: bool = True
    restarts: int = 0
    failures: int = 0
    started_at: float = 0.0
    last_exit: int | None = None
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.returncode is None else None

    async def start(self, *, timeout_s: float = 20.0) -> None:
        await self.spawn()
        await self.wait_ready(timeout_s=timeout_s)

    async def spawn(self) -> None:
        log = open(self.log_file, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.process = await asyncio.create_subprocess_exec(
            *self.command,
            stdout=log,
            stderr=log,
            stdin=asyncio.subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            process_group=0,
        )
        log.close()
        self.started_at = time.monotonic()
        self.wanted = True
        self._tasks.append(asyncio.create_task(self._watch(self.process)))
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    async def wait_ready(self, *, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.pid is None:
                raise StartupError(f"{self.name} exited at start; see {self.log_file}")
            if await answers(self.ready_url):
                return
            await asyncio.sleep(0.1)
        raise StartupError(
            f"{self.name} was not ready within {timeout_s:.0f} s ({self.ready_url}); "
            f"see {self.log_file}"
        )

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        self.last_exit = code
        self._changed()
        if not self.wanted or self.process is not proc:
            return
        ran_for = time.monotonic() - self.started_at
        self.failures = 0 if ran_for > STABLE_AFTER_S else self.failures + 1
        delay = min(MAX_BACKOFF_S, 0.5 * 2 ** max(0, self.failures - 1))
        self.say(f"{self.label} exited with code {code}; restarting in {delay:.1f}s")
        await asyncio.sleep(delay)
        if self.wanted and self.process is proc:
            self.restarts += 1
            await self.spawn()

    def kill(self, sig: int, *, hold_s: float = 0.0) -> int | None:
        """Signal the process; with `hold_s`, keep it down that long before restarting."""
        pid = self.pid
        if pid is None:
            return None
        if hold_s > 0:
            self.wanted = False
            self._tasks.append(asyncio.create_task(self._restart_after(hold_s)))
        os.kill(pid, sig)
        return pid

    async def _restart_after(self, hold_s: float) -> None:
        await asyncio.sleep(hold_s)
        await self.revive()

    async def revive(self) -> bool:
        """Start the process again if it is down (ending a kill's hold early)."""
        if self.pid is not None:
            return False
        self.restarts += 1
        await self.spawn()
        return True

    async def stop(self, *, grace_s: float = 5.0) -> None:
        self.wanted = False
        for task in self._tasks:
            task.cancel()
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        try:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), timeout=grace_s)
        except ProcessLookupError:
            pass
        except TimeoutError:
            proc.kill()
            await proc.wait()

    @property
    def label(self) -> str:
        return f"{self.name}[{self.index}]"

    def view(self) -> dict[str, Any]:
        return {
            "service": self.name,
            "instance": self.index,
            "pid": self.pid,
            "restarts": self.restarts,
            "uptime_s": round(time.monotonic() - self.started_at, 1) if self.pid else 0.0,
            "last_exit": self.last_exit,
        }


async def answers(url: str, *, timeout_s: float = 1.0) -> bool:
    """True when `url` answers 200."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as http,
            http.get(url) as response,
        ):
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError, OSError):
        return False
