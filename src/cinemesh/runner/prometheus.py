"""`cinemesh up --prometheus`: Debian's `prometheus` binary scraping every instance of the local
platform, with the SLO rules and burn-rate alerts of `slo.py`, on its own port.

Its files live under `<data dir>/prometheus/`: `prometheus.yml` (the same text as
`deploy/prometheus/prometheus.yml`), `rules/slo.rules.yml`, the TSDB in `data/`, and
`targets/cinemesh.json`, the file_sd list the supervisor rewrites from its instances whenever
one starts, stops or moves port (Prometheus watches the file)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import yaml

from cinemesh.platform.errors import StartupError
from cinemesh.runner.infra import InfraProcess
from cinemesh.runner.layout import free_port, port_is_free
from cinemesh.runner.slo import duration, rule_groups

SERVICE_NAME = "prometheus"
PREFERRED_PORT = 19090  # beside Debian's own 9090, which a system Prometheus may hold
SCRAPE_INTERVAL_S = 15
TIME_SCALE_ENV = "CINEMESH_SLO_TIME_SCALE"  # tests: windows and intervals divided (slo.py)
HEADER = (
    "# generated from src/cinemesh/runner/prometheus.py and slo.py; edit the code there\n"
    "# (python deploy/prometheus/generate.py writes deploy/prometheus/)\n"
)


def binary() -> str:
    found = shutil.which("prometheus")
    if not found:
        raise StartupError(
            "prometheus not found; install Debian's package (`apt-get install -y prometheus`) "
            "or run `cinemesh up` without --prometheus"
        )
    return found


def local_config(time_scale: float = 1.0) -> dict[str, Any]:
    """Scrape every instance the file_sd targets list; rules from `rules/`."""
    interval = duration(max(1.0, SCRAPE_INTERVAL_S / time_scale))
    return {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": duration(max(1.0, min(10.0, SCRAPE_INTERVAL_S / time_scale))),
            "evaluation_interval": interval,
            "external_labels": {"platform": "cinemesh-local"},
        },
        "rule_files": ["rules/*.yml"],
        "scrape_configs": [
            {
                "job_name": "cinemesh",
                # the services label their own metrics with `service`: theirs is kept
                "honor_labels": True,
                "file_sd_configs": [{"files": ["targets/*.json"], "refresh_interval": "30s"}],
            }
        ],
    }


class Dumper(yaml.SafeDumper):
    """PromQL over several lines as a literal block, so the files read like hand-written ones."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar(
        "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None
    )


Dumper.add_representer(str, _str)


def render(document: dict[str, Any]) -> str:
    return HEADER + yaml.dump(document, Dumper=Dumper, sort_keys=False, width=100)


def configured_time_scale() -> float:
    """CINEMESH_SLO_TIME_SCALE (default 1): how much faster than real time the SLO windows run."""
    value = os.environ.get(TIME_SCALE_ENV, "1")
    try:
        scale = float(value)
    except ValueError:
        scale = 0.0
    if not 1 <= scale <= 3600:
        raise StartupError(f"invalid setting {TIME_SCALE_ENV}={value!r}: a number from 1 to 3600")
    return scale


def targets(instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """file_sd groups: each instance's address, labelled with its service and instance."""
    return [
        {
            "targets": [f"127.0.0.1:{inst['port']}"],
            "labels": {
                "component": str(inst["service"]),
                "instance_id": f"{inst['service']}-{inst['instance']}",
            },
        }
        for inst in instances
    ]


class LocalPrometheus:
    """Prometheus for one local platform, its files under `<data dir>/prometheus`."""

    def __init__(
        self,
        *,
        data_dir: Path,
        logs_dir: Path,
        time_scale: float = 1.0,
        say: Any = print,
        on_change: Callable[[], None] | None = None,
        preferred_port: bool = True,
    ) -> None:
        self.home = data_dir / "prometheus"
        self.time_scale = time_scale
        preferred = preferred_port and port_is_free(PREFERRED_PORT)
        self.port = PREFERRED_PORT if preferred else free_port()
        self.process = InfraProcess(
            name=SERVICE_NAME,
            index=0,
            command=[
                binary(),
                f"--config.file={self.home / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.home / 'data'}",
                "--storage.tsdb.retention.time=15d",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            log_file=logs_dir / "prometheus.log",
            ready_url=f"http://127.0.0.1:{self.port}/-/ready",
            say=say,
            on_change=on_change,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, instances: list[dict[str, Any]]) -> None:
        self.write_files()
        self.write_targets(instances)
        await self.process.start(timeout_s=30)

    def write_files(self) -> None:
        for folder in (self.home / "rules", self.home / "targets", self.home / "data"):
            folder.mkdir(parents=True, exist_ok=True)
        (self.home / "prometheus.yml").write_text(render(local_config(self.time_scale)))
        rules = self.home / "rules" / "slo.rules.yml"
        rules.write_text(render(rule_groups(self.time_scale)))

    def write_targets(self, instances: list[dict[str, Any]]) -> None:
        """Replace the targets file at once (a half-written file would drop every target)."""
        path = self.home / "targets" / "cinemesh.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(targets(instances), option=orjson.OPT_INDENT_2))
        tmp.replace(path)

    async def stop(self) -> None:
        await self.process.stop()

    def view(self) -> dict[str, Any]:
        return {**self.process.view(), "url": self.url}
