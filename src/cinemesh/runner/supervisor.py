"""The local supervisor behind `cinemesh up`: one process per service instance, restarted
with backoff when it crashes, health polled, and a small control API for the CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import aiohttp
import orjson
from aiohttp import web

from cinemesh.platform.auth import (
    SERVICE_TOKEN_HEADER,
    is_service_token,
    load_service_key,
    service_token,
)
from cinemesh.platform.errors import StartupError
from cinemesh.platform.settings import PlatformSettings, load_settings
from cinemesh.runner.addresses import StableAddress, keeps_its_address
from cinemesh.runner.canary import Totals, read_totals
from cinemesh.runner.deploys import CanaryPlan, DeployProgress, canary, rolling
from cinemesh.runner.layout import (
    PORT_ATTEMPTS,
    Layout,
    available_services,
    free_port,
    port_is_free,
)
from cinemesh.runner.natsd import SERVICE_NAME as NATS_SERVICE
from cinemesh.runner.natsd import NatsCluster
from cinemesh.runner.processes import die_with_parent, started_at
from cinemesh.runner.prometheus import LocalPrometheus, configured_time_scale
from cinemesh.runner.seaweed import SeaweedS3, start_local_s3

MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 30.0


class Stoppable(Protocol):
    async def stop(self) -> None: ...


Infra = TypeVar("Infra", bound=Stoppable)
DRAIN_GRACE_S = 20.0  # settling, requests in flight, shutdown steps: then SIGKILL
WHOLE_STOP: dict[str, Any] = {"sig": signal.SIGINT, "grace_s": 5.0}


class DeployBusy(Exception):
    pass


@dataclass
class Slot:
    """One instance position of a service; its process may be restarted many times."""

    service: str
    index: int
    port: int
    process: asyncio.subprocess.Process | None = None
    wanted: bool = True
    healthy: bool = False
    restarts: int = 0
    version: str = ""
    release: dict[str, Any] | None = None  # None: the code `cinemesh up` started from
    failures: int = 0
    started_at: float = 0.0
    last_exit: int | None = None
    watcher: asyncio.Task[None] | None = field(default=None, repr=False)
    # where callers reach it, kept from an instance to the one replacing it (addresses.py)
    address: StableAddress | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.returncode is None else None

    def view(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "instance": self.index,
            "pid": self.pid,
            "port": self.port,
            "public_port": self.address.port if self.address else None,
            "healthy": self.healthy and self.pid is not None,
            "version": self.version,
            "restarts": self.restarts,
            "uptime_s": round(time.monotonic() - self.started_at, 1) if self.pid else 0.0,
            "last_exit": self.last_exit,
        }


@dataclass
class UpOptions:
    data_dir: Any
    port: int = 8080
    host: str = "127.0.0.1"
    nats_url: str = ""
    nats_nodes: int = 1  # the embedded NATS: one server, or a JetStream cluster of this many
    prometheus: bool = False  # also run Prometheus with the SLO rules (runner/prometheus.py)
    media_store: str = "files"  # or s3: SeaweedFS as the S3 origin (runner/seaweed.py)
    instances: dict[str, int] = field(default_factory=dict)
    services: list[str] = field(default_factory=list)


class Supervisor:
    def __init__(self, options: UpOptions, *, out: Any = None) -> None:
        self.options = options
        self.layout = Layout(options.data_dir)
        self.slots: dict[str, list[Slot]] = {}
        self.nats: NatsCluster | None = None
        self.prometheus: LocalPrometheus | None = None
        self.seaweed: SeaweedS3 | None = None
        self.nats_url = options.nats_url
        self.registry_url = ""
        self.stopping = asyncio.Event()
        self.out = out or (lambda msg: print(msg, flush=True))
        self._tasks: list[asyncio.Task[Any]] = []
        self.deploys: dict[str, DeployProgress] = {}
        # every gateway instance takes connections from this one socket (addresses.py)
        self.public_address = StableAddress(
            options.host, options.port, advertised=False, fixed=True
        )
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        key = load_service_key(
            data_dir=self.layout.data_dir, configured=os.environ.get("CINEMESH_SERVICE_KEY", "")
        )
        self.auth_headers = {SERVICE_TOKEN_HEADER: service_token(key)}

    # --- start ---------------------------------------------------------------------------
    async def start(self) -> None:
        load_settings(PlatformSettings)  # a malformed CINEMESH_* variable fails here, named
        self.layout.prepare()
        self._check_not_running()
        if not port_is_free(self.options.port, self.options.host):
            raise StartupError(
                f"port {self.options.port} is already in use; stop what holds it or run "
                f"`cinemesh up --port N` with another port"
            )
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=1.0), headers=self.auth_headers
        )
        await self._start_nats()
        if self.options.media_store == "s3":
            self.seaweed = await start_local_s3(self.layout.data_dir, say=self.out)
        await self._start_control_api()
        services = self.options.services or available_services()
        if "registry" in services:
            self.registry_url = await self._start_service("registry")
            await self.wait_healthy(["registry"], timeout_s=30)
        for name in services:
            if name != "registry":
                await self._start_service(name)
        self._tasks.append(asyncio.create_task(self._poll_health_forever()))
        if self.options.prometheus:
            await self._start_prometheus()

    def _check_not_running(self) -> None:
        state = self.layout.read_state()
        if state and _alive(int(state.get("pid", 0))) and state.get("pid") != os.getpid():
            raise StartupError(
                f"cinemesh is already running from {self.layout.data_dir} (pid {state['pid']}); "
                "use `cinemesh status`, or `cinemesh down` first"
            )

    async def _start_nats(self) -> None:
        if self.nats_url:
            return

        def cluster(preferred_port: bool) -> NatsCluster:
            self.nats = NatsCluster(
                size=self.options.nats_nodes,
                data_dir=self.layout.data_dir,
                logs_dir=self.layout.logs_dir,
                say=self.out,
                on_change=self._write_pids,
                preferred_port=preferred_port,
            )
            return self.nats

        nats = await self._start_on_free_ports("nats-server", cluster, lambda n: n.start())
        self.nats_url = nats.urls
        self.out(nats.describe())

    async def _start_prometheus(self) -> None:
        def server(preferred_port: bool) -> LocalPrometheus:
            self.prometheus = LocalPrometheus(
                data_dir=self.layout.data_dir,
                logs_dir=self.layout.logs_dir,
                time_scale=configured_time_scale(),
                say=self.out,
                on_change=self._write_pids,
                preferred_port=preferred_port,
            )
            return self.prometheus

        started = await self._start_on_free_ports(
            "prometheus", server, lambda p: p.start(self.status())
        )
        self.out(f"metrics: prometheus on {started.url}")

    async def _start_on_free_ports(
        self,
        name: str,
        make: Callable[[bool], Infra],
        start: Callable[[Infra], Awaitable[None]],
    ) -> Infra:
        """Start what `make` builds on its preferred port, then on others: a port seen free can
        be taken by another platform starting at the same time before ours binds it."""
        for attempt in range(PORT_ATTEMPTS):
            made = make(attempt == 0)
            try:
                await start(made)
                return made
            except StartupError:
                await made.stop()
                if attempt == PORT_ATTEMPTS - 1:
                    raise
                self.out(f"{name} did not start; trying other ports")
        raise AssertionError("unreachable")

    async def _start_service(self, name: str) -> str:
        count = max(1, self.options.instances.get(name, 1))
        self.slots[name] = []
        for index in range(count):
            await self._add_slot(name, index)
        return f"http://127.0.0.1:{self.slots[name][0].port}"

    async def _add_slot(self, name: str, index: int) -> Slot:
        slot = Slot(name, index, free_port())
        slot.address = self._address_for(name)
        self.slots.setdefault(name, []).append(slot)
        await self._spawn(slot)
        return slot

    def child_env(self, slot: Slot) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "CINEMESH_DATA_DIR": str(self.layout.data_dir),
                "CINEMESH_HOST": "127.0.0.1",
                "CINEMESH_PORT": str(slot.port),
                "CINEMESH_INSTANCE_ID": f"{slot.service}-{slot.index}",
                "CINEMESH_NATS_URL": self.nats_url,
                "CINEMESH_REGISTRY_URLS": orjson.dumps([self.registry_url]).decode(),
                "CINEMESH_DISCOVERY": "registry",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.nats is not None:  # every stream on every node of the embedded cluster
            env["CINEMESH_NATS_REPLICAS"] = str(self.nats.replicas)
        if self.seaweed is not None:  # the local S3 origin's endpoint, bucket and keys
            env.update(self.seaweed.env())
        if slot.release and slot.release.get("src"):  # a deployed release's own code first
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (slot.release["src"], env.get("PYTHONPATH", "")) if p
            )
            env["CINEMESH_RELEASE"] = str(slot.release["name"])
        if slot.address is not None and slot.address.sock is not None:
            env["CINEMESH_LISTEN_FD"] = str(slot.address.sock.fileno())
            if slot.address.advertised:
                env["CINEMESH_PUBLIC_URL"] = slot.address.url
        return env

    async def _spawn(self, slot: Slot) -> None:
        if not port_is_free(slot.port):  # taken by another process while this one was down
            slot.port = free_port()
        inherited = (slot.address.open().fileno(),) if slot.address is not None else ()
        log = open(self.layout.log_file(slot.service, slot.index), "ab")  # noqa: SIM115
        slot.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cinemesh",
            "serve",
            slot.service,
            env=self.child_env(slot),
            stdout=log,
            stderr=log,
            stdin=asyncio.subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            process_group=0,
            pass_fds=inherited,
        )
        log.close()
        slot.started_at = time.monotonic()
        slot.healthy = False
        slot.wanted = True
        slot.watcher = asyncio.create_task(self._watch(slot, slot.process))
        self._write_pids()

    async def _watch(self, slot: Slot, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        slot.healthy = False
        slot.last_exit = code
        self._release_address(slot)
        self._write_pids()
        if not slot.wanted or self.stopping.is_set() or slot.process is not proc:
            return
        ran_for = time.monotonic() - slot.started_at
        slot.failures = 0 if ran_for > STABLE_AFTER_S else slot.failures + 1
        delay = min(MAX_BACKOFF_S, 0.5 * 2 ** max(0, slot.failures - 1))
        self.out(
            f"{slot.service}[{slot.index}] exited with code {code}; restarting in {delay:.1f}s"
            f" (log: {self.layout.log_file(slot.service, slot.index)})"
        )
        await asyncio.sleep(delay)
        if slot.wanted and not self.stopping.is_set():
            slot.restarts += 1
            await self._spawn(slot)

    # --- health --------------------------------------------------------------------------
    async def _poll_health_forever(self) -> None:
        while not self.stopping.is_set():
            await self.poll_health()
            await asyncio.sleep(1.0)

    async def poll_health(self) -> None:
        slots = [s for group in self.slots.values() for s in group if s.pid]
        await asyncio.gather(*(self.probe(s) for s in slots))

    async def probe(self, slot: Slot) -> None:
        assert self._http is not None
        try:
            async with self._http.get(f"http://127.0.0.1:{slot.port}/health/ready") as resp:
                slot.healthy = resp.status == 200
                slot.version = str((await resp.json(content_type=None)).get("version", ""))
        except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError):
            slot.healthy = False

    async def wait_healthy(self, services: list[str] | None = None, *, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            await self.poll_health()
            wanted = [
                s
                for name, group in self.slots.items()
                if services is None or name in services
                for s in group
            ]
            if wanted and all(s.healthy for s in wanted):
                return True
            await asyncio.sleep(0.25)
        return False

    def background(self, work: Any) -> None:
        """Run a coroutine alongside the supervisor; it is cancelled on stop."""
        self._tasks.append(asyncio.create_task(work))

    def status(self) -> list[dict[str, Any]]:
        return [slot.view() for group in self.slots.values() for slot in group]

    # --- control -------------------------------------------------------------------------
    async def scale(self, service: str, count: int) -> None:
        if service not in self.slots:
            raise KeyError(service)
        group = self.slots[service]
        while len(group) < count:
            await self._add_slot(service, len(group))
        while len(group) > count:
            slot = group.pop()
            await self._stop_slot(slot)

    async def add_release_slot(
        self, service: str, release: dict[str, Any] | None, *, replacing: Slot | None = None
    ) -> Slot:
        """One more instance of `service`, running `release` (None: the platform's own code);
        the one `replacing` an instance takes over its address, if it keeps one."""
        group = self.slots[service]
        slot = Slot(service, max((s.index for s in group), default=-1) + 1, free_port())
        slot.release = release
        slot.address = self._address_for(service, replacing=replacing)
        group.append(slot)
        await self._spawn(slot)
        return slot

    def _address_for(self, service: str, *, replacing: Slot | None = None) -> StableAddress | None:
        """Where an instance of `service` takes connections beside its own port: the public
        port for a gateway, the address of the edge it replaces (or a new one), else none."""
        if service == "gateway":
            return self.public_address
        if keeps_its_address(service):
            return (replacing.address if replacing is not None else None) or StableAddress()
        return None

    def _release_address(self, slot: Slot) -> None:
        """Close an address no live process holds: callers are refused, not kept waiting."""
        address = slot.address
        if address is None:
            return
        holders = [s for group in self.slots.values() for s in group if s.address is address]
        if not any(s.pid for s in holders):
            address.close()

    async def retire_slot(self, slot: Slot) -> None:
        """Drain and stop one instance, and forget its position."""
        await self._stop_slot(slot)
        group = self.slots.get(slot.service, [])
        if slot in group:
            group.remove(slot)
        self._write_pids()

    def deploy(
        self, service: str, release: dict[str, Any], strategy: str, plan: CanaryPlan
    ) -> DeployProgress:
        running = self.deploys.get(service)
        if running is not None and not running.verdict:
            raise DeployBusy(f"a deploy of {service} is already running ({running.release})")
        progress = DeployProgress(service, str(release.get("name", "")), strategy)
        self.deploys[service] = progress
        if strategy == "canary":
            self.background(canary(self, service, release, progress, plan))
        else:
            self.background(rolling(self, service, release, progress))
        return progress

    async def set_weights(self, service: str, weights: dict[str, float]) -> None:
        """Each version's share of the calls to `service` (the registry hands it to callers)."""
        assert self._http is not None
        try:
            async with self._http.put(
                f"{self.registry_url}/v1/weights/{service}", json={"weights": weights}
            ) as resp:
                if resp.status >= 400:
                    self.out(f"the registry refused the weights of {service}: {resp.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.out(f"could not set the weights of {service}: {exc}")

    async def read_totals(self, service: str, slots: list[Slot]) -> Totals:
        """What `slots` served so far, summed from their own /metrics."""
        assert self._http is not None
        total = Totals()
        for slot in slots:
            try:
                async with self._http.get(f"http://127.0.0.1:{slot.port}/metrics") as resp:
                    total = total + read_totals(await resp.text(), service)
            except (aiohttp.ClientError, TimeoutError):
                continue
        return total

    def kill(self, service: str, index: int | None, sig: int, *, hold_s: float = 0.0) -> list[int]:
        """Signal instances; with `hold_s`, keep them down that long before restarting."""
        killed = []
        for slot in self.slots.get(service, []):
            if (index is None or slot.index == index) and slot.pid:
                if hold_s > 0:
                    slot.wanted = False
                    self.background(self._restart_after(slot, hold_s))
                os.kill(slot.pid, sig)
                killed.append(slot.pid)
        return killed

    async def revive(self, service: str) -> int:
        """Start again every instance of `service` that is down (ending a kill's hold)."""
        revived = 0
        for slot in self.slots.get(service, []):
            if slot.pid is None:
                slot.restarts += 1
                await self._spawn(slot)
                revived += 1
        return revived

    async def _restart_after(self, slot: Slot, hold_s: float) -> None:
        await asyncio.sleep(hold_s)
        if not self.stopping.is_set() and slot in self.slots.get(slot.service, []) and not slot.pid:
            slot.restarts += 1
            await self._spawn(slot)

    async def _stop_slot(
        self, slot: Slot, *, sig: int = signal.SIGTERM, grace_s: float = DRAIN_GRACE_S
    ) -> None:
        """SIGTERM drains the instance (platform/drain.py); SIGINT, for a whole-platform stop,
        skips the wait for callers, who are stopping too."""
        slot.wanted = False
        proc = slot.process
        if proc is None or proc.returncode is not None:
            return
        try:
            proc.send_signal(sig)
            await asyncio.wait_for(proc.wait(), timeout=grace_s)
        except ProcessLookupError:
            pass
        except TimeoutError:
            proc.kill()
            await proc.wait()
        self._write_pids()

    async def _start_control_api(self) -> None:
        app = web.Application()
        app.add_routes(
            [
                web.get("/status", self._api_status),
                web.post("/scale", self._api_scale),
                web.post("/kill", self._api_kill),
                web.post("/revive", self._api_revive),
                web.post("/shutdown", self._api_shutdown),
                web.post("/deploy", self._api_deploy),
                web.get("/deploys", self._api_deploys),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.layout.write_json(
            self.layout.state_file,
            {
                "pid": os.getpid(),
                "control_url": f"http://127.0.0.1:{port}",
                "gateway_url": f"http://{self.options.host}:{self.options.port}",
                "nats_url": self.nats_url,
                "data_dir": str(self.layout.data_dir),
                "started_at": time.time(),
            },
        )

    def _authorized(self, request: web.Request) -> bool:
        presented = request.headers.get(SERVICE_TOKEN_HEADER, "")
        return is_service_token(presented, self.auth_headers[SERVICE_TOKEN_HEADER])

    async def _api_status(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "instances": self.status(),
                "nats_url": self.nats_url,
                "registry_url": self.registry_url,
                "nats": self.nats.view() if self.nats else [],
                "prometheus": self.prometheus.view() if self.prometheus else None,
            }
        )

    async def _api_scale(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": "forbidden"}, status=403)
        body = await request.json()
        try:
            await self.scale(str(body["service"]), int(body["count"]))
        except KeyError:
            return web.json_response({"error": f"no service {body.get('service')!r}"}, status=404)
        return web.json_response({"instances": self.status()})

    async def _api_kill(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": "forbidden"}, status=403)
        body = await request.json()
        if body.get("service") == NATS_SERVICE and self.nats is not None:
            return web.json_response({"killed": self._kill_nats(body)})
        if str(body.get("service")) not in self.slots:
            return web.json_response({"error": f"no service {body.get('service')!r}"}, status=404)
        index = body.get("instance")
        pids = self.kill(
            str(body["service"]),
            None if index is None else int(index),
            int(body.get("signal", signal.SIGKILL)),
            hold_s=float(body.get("hold_s", 0.0)),
        )
        return web.json_response({"killed": pids})

    def _kill_nats(self, body: dict[str, Any]) -> list[int]:
        assert self.nats is not None
        index = body.get("instance")
        return self.nats.kill(
            None if index is None else int(index),
            int(body.get("signal", signal.SIGKILL)),
            hold_s=float(body.get("hold_s", 0.0)),
        )

    async def _api_revive(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": "forbidden"}, status=403)
        body = await request.json()
        if body.get("service") == NATS_SERVICE and self.nats is not None:
            return web.json_response({"revived": await self.nats.revive()})
        if str(body.get("service")) not in self.slots:
            return web.json_response({"error": f"no service {body.get('service')!r}"}, status=404)
        return web.json_response({"revived": await self.revive(str(body["service"]))})

    async def _api_deploy(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": "forbidden"}, status=403)
        body = await request.json()
        service = str(body.get("service"))
        if service not in self.slots:
            return web.json_response({"error": f"no service {service!r}"}, status=404)
        try:
            plan = CanaryPlan(
                weight_pct=float(body.get("weight", 10)),
                duration_s=float(body.get("duration_s", 120)),
                interval_s=float(body.get("interval_s", 2)),
            )
            strategy = str(body.get("strategy", "rolling"))
            progress = self.deploy(service, dict(body["release"]), strategy, plan)
        except DeployBusy as busy:
            return web.json_response({"error": str(busy)}, status=409)
        return web.json_response(progress.view(), status=202)

    async def _api_deploys(self, _request: web.Request) -> web.Response:
        return web.json_response({name: d.view() for name, d in self.deploys.items()})

    async def _api_shutdown(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": "forbidden"}, status=403)
        self.stopping.set()
        return web.json_response({"stopping": True})

    def _write_pids(self) -> None:
        pids: dict[str, Any] = {
            str(s.pid): {"service": s.service, "instance": s.index, "started": started_at(s.pid)}
            for group in self.slots.values()
            for s in group
            if s.pid
        }
        infrastructure = [*(self.nats.nodes if self.nats else [])]
        if self.prometheus:
            infrastructure.append(self.prometheus.process)
            self.prometheus.write_targets(self.status())
        for proc in infrastructure:
            if proc.pid:
                pids[str(proc.pid)] = {
                    "service": proc.name,
                    "instance": proc.index,
                    "started": started_at(proc.pid),
                }
        self.layout.write_json(self.layout.pids_file, pids)

    # --- stop ----------------------------------------------------------------------------
    async def stop(self) -> None:
        self.stopping.set()
        for task in self._tasks:
            task.cancel()
        slots = [s for group in self.slots.values() for s in group]
        non_registry = [s for s in slots if s.service != "registry"]
        await asyncio.gather(*(self._stop_slot(s, **WHOLE_STOP) for s in non_registry))
        await asyncio.gather(
            *(self._stop_slot(s, **WHOLE_STOP) for s in slots if s.service == "registry")
        )
        if self.prometheus:
            await self.prometheus.stop()
        if self.nats:
            await self.nats.stop()
        if self.seaweed:
            await asyncio.to_thread(self.seaweed.stop)
        if self._runner:
            await self._runner.cleanup()
        if self._http:
            await self._http.close()
        self.layout.state_file.unlink(missing_ok=True)
        self.layout.pids_file.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
