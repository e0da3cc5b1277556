"""kill -9 of identity under sign-up load loses no acknowledged account, on both backends:
every sign-up answered 201 can sign in after the restart."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import httpx

from tests.support.backends import Backend
from tests.support.platform import LocalPlatform
from tests.support.users import login

SERVICES = ["registry", "identity", "gateway"]
NO_GATEWAY_LIMITS = {"CINEMESH_GATEWAY_RATE_PER_IP": "0", "CINEMESH_GATEWAY_RATE_PER_ACCOUNT": "0"}


def wait_for_sign_in(platform: LocalPlatform, email: str, password: str) -> None:
    """After the restart the gateway's breaker to identity half-opens and closes by itself."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = {"email": email, "password": password}
        if httpx.post(f"{platform.gateway}/api/v1/auth/login", json=body, timeout=10).is_success:
            return
        time.sleep(0.5)
    raise AssertionError("sign-in did not come back after the restart")


def test_no_acknowledged_signup_is_lost(backend: Backend, data_dir: Path) -> None:
    platform = LocalPlatform(
        data_dir, services=SERVICES, env={**backend.env, **NO_GATEWAY_LIMITS}
    ).start()
    try:
        run = uuid.uuid4().hex[:6]
        acknowledged: list[str] = []
        killer = threading.Timer(2.5, lambda: platform.kill("identity"))
        killer.start()
        with httpx.Client(base_url=f"{platform.gateway}/api/v1", timeout=5) as client:
            stop, n = time.monotonic() + 8, 0
            while time.monotonic() < stop:
                email, n = f"crash-{run}-{n}@example.com", n + 1
                try:
                    body = {"email": email, "password": f"Crash-pass-{run}"}
                    if client.post("/auth/signup", json=body).status_code == 201:
                        acknowledged.append(email)
                except httpx.HTTPError:
                    pass
        killer.join()
        platform.wait_healthy(service="identity", timeout_s=60)
        assert platform.instances("identity")[0]["restarts"] >= 1, "identity was really killed"
        assert len(acknowledged) > 5
        wait_for_sign_in(platform, acknowledged[0], f"Crash-pass-{run}")
        for email in acknowledged:
            assert login(platform, email, f"Crash-pass-{run}").access_token
    finally:
        platform.stop()
