"""Settings from the environment: one shared prefix for the platform, one prefix per service."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from cinemesh.platform.errors import StartupError

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class PlatformSettings(BaseSettings):
    """What every service reads, under the `CINEMESH_` prefix."""

    model_config = SettingsConfigDict(env_prefix="CINEMESH_", extra="ignore")

    data_dir: Path = Path(".cinemesh")
    host: str = "127.0.0.1"
    port: int = 0
    # A port every instance of the service also listens on (SO_REUSEPORT), the kernel
    # spreading connections over them, for instances started by hand. 0: none.
    shared_port: int = 0
    # A listening socket inherited from the supervisor (its file descriptor), served beside
    # `port`: an address that outlives the instance, handed from an instance to the one that
    # replaces it with the connections waiting on it (the gateway's public port, an edge's
    # address; runner/addresses.py). 0: none.
    listen_fd: int = Field(0, ge=0)
    instance_id: str = ""
    public_url: str = ""
    nats_url: str = "nats://127.0.0.1:4222"  # a comma-separated list for a cluster
    # how many NATS nodes keep a copy of every stream: 3 on a cluster of 3 (one node can go)
    nats_replicas: int = Field(1, ge=1, le=5)
    bus_namespace: str = "cinemesh"
    discovery: Literal["registry", "dns"] = "registry"
    registry_urls: list[str] = []
    dns_port: int = 8000
    database_url_template: str = ""
    redis_url: str = ""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    service_key: str = ""
    faults_enabled: bool = True
    # on SIGTERM, how long an instance keeps answering after leaving the registry (drain.py)
    drain_s: float = Field(2.5, ge=0, le=60)


class ServiceSettings(BaseSettings):
    """Base for a service's own settings; a subclass sets `env_prefix="CINEMESH_<NAME>_"`."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = ""
    # the longest a hot read kept in memory is trusted without a notice (platform/kept.py)
    kept_reads_s: float = Field(30.0, ge=0)


def load_settings(cls: type[SettingsT], *, env_prefix: str | None = None) -> SettingsT:
    """Read settings, turning a malformed value into an error that names the variable.
    `env_prefix` reads a class shared by every service under each service's own prefix."""
    try:
        return cls() if env_prefix is None else cls(_env_prefix=env_prefix)
    except ValidationError as exc:
        prefix = env_prefix or cls.model_config.get("env_prefix", "") or ""
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            var = f"{prefix}{field}".upper()
            value = os.environ.get(var, "<unset>")
            problems.append(f"{var}={value!r}: {err['msg']}")
        raise StartupError("invalid setting " + "; ".join(problems)) from None
