"""identity's costs per core, no services needed:
- sign-ins/s are bounded by one argon2id verification each (the cost parameters are reported);
  measured on one thread and on every core;
- access-token verifications/s through the chassis' TokenVerifier (keys cached, as in every
  service), against a bare PyJWT decode of the same token as the baseline;
- access tokens signed/s (EdDSA). Prints JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
from argon2 import PasswordHasher

from cinemesh.platform.auth import JWT_AUDIENCE, JWT_ISSUER, TokenVerifier
from cinemesh.services.identity.public import ARGON2_PARAMS, SigningKey

PASSWORD = "Bench-pass-12345"


def argon2_rates(rounds: int) -> dict[str, Any]:
    hasher = PasswordHasher(**ARGON2_PARAMS)  # type: ignore[arg-type]
    stored = hasher.hash(PASSWORD)
    started = time.perf_counter()
    for _ in range(rounds):
        hasher.verify(stored, PASSWORD)
    one_core = rounds / (time.perf_counter() - started)
    cores = os.cpu_count() or 1
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=cores) as pool:  # argon2-cffi releases the GIL
        list(pool.map(lambda _: hasher.verify(stored, PASSWORD), range(rounds * cores)))
    all_cores = rounds * cores / (time.perf_counter() - started)
    return {
        "params": {**ARGON2_PARAMS, "memory_cost_unit": "KiB", "type": "argon2id"},
        "sign_ins_per_s_one_core": round(one_core, 1),
        "sign_ins_per_s_all_cores": round(all_cores, 1),
        "cores": cores,
        "ms_per_verification": round(1000 / one_core, 2),
    }


def token_rates(rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        key = SigningKey.load_or_create(secrets=Path(folder), configured_pem="")
    claims = {"account_id": "a" * 32, "role": "member", "plan": "premium", "email": "b@e.x"}
    started = time.perf_counter()
    tokens = [key.access_token(**claims, ttl_s=900) for _ in range(rounds)]
    signed = rounds / (time.perf_counter() - started)
    jwks = key.jwks()
    verifier = TokenVerifier(fetch_jwks=lambda: _value(jwks))
    public = key.private.public_key()

    async def verify_all() -> float:
        await verifier.verify(tokens[0])  # loads the keys once, as a running service has
        begun = time.perf_counter()
        for token in tokens:
            await verifier.verify(token)
        return rounds / (time.perf_counter() - begun)

    verified = asyncio.run(verify_all())
    begun = time.perf_counter()
    for token in tokens:
        jwt.decode(token, public, algorithms=["EdDSA"], audience=JWT_AUDIENCE, issuer=JWT_ISSUER)
    bare = rounds / (time.perf_counter() - begun)
    return {
        "signed_per_s_one_core": round(signed),
        "verified_per_s_one_core": round(verified),
        "bare_pyjwt_decode_per_s_one_core": round(bare),
        "ratio": round(verified / bare, 3),
    }


async def _value(jwks: dict[str, Any]) -> dict[str, Any]:
    return jwks


def summarize(argon: dict[str, Any], tokens: dict[str, Any]) -> list[dict[str, Any]]:
    p = argon["params"]
    return [
        {
            "measurement": f"sign-ins/s, one core (argon2id t={p['time_cost']}, "
            f"m={p['memory_cost'] // 1024} MiB, p={p['parallelism']})",
            "baseline": f"all {argon['cores']} cores",
            "value": argon["sign_ins_per_s_one_core"],
            "baseline_value": argon["sign_ins_per_s_all_cores"],
            "ratio": round(argon["sign_ins_per_s_one_core"] / argon["sign_ins_per_s_all_cores"], 3),
            "better": "higher",
        },
        {
            "measurement": "access-token verifications/s, one core (TokenVerifier)",
            "baseline": "bare PyJWT decode",
            "value": tokens["verified_per_s_one_core"],
            "baseline_value": tokens["bare_pyjwt_decode_per_s_one_core"],
            "ratio": tokens["ratio"],
            "better": "higher",
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke run for tests")
    args = parser.parse_args()
    hash_rounds, token_rounds = (4, 300) if args.tiny else (20, 3000) if args.quick else (60, 20000)
    argon = argon2_rates(hash_rounds)
    tokens = token_rates(token_rounds)
    body = {"benchmark": "identity", "summary": summarize(argon, tokens), "argon2": argon}
    print(json.dumps({**body, "tokens": tokens}, indent=2))


if __name__ == "__main__":
    main()
