"""The chassis remembers tokens it has verified, so one page view that presents a token to
several services pays for one signature check; a remembered token still expires on time."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import jwt
import pytest

from cinemesh.platform import auth
from cinemesh.platform.auth import TokenVerifier
from cinemesh.platform.errors import ApiError
from tests.support.tokens import TokenMint


def verifier_for(mint: TokenMint) -> TokenVerifier:
    async def no_identity() -> None:
        return None

    return TokenVerifier(fetch_jwks=no_identity, jwks_file=mint.data_dir / "identity/jwks.json")


async def refusal(verifier: TokenVerifier, token: str) -> str:
    """The error code a verification answers, or "accepted"."""
    try:
        await verifier.verify(token)
    except ApiError as exc:
        return exc.code
    return "accepted"


def test_a_verified_token_is_not_checked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mint = TokenMint(tmp_path)
    verifier = verifier_for(mint)
    token = mint.token(account_id="acct-1")
    checks = []
    real_decode = jwt.decode
    monkeypatch.setattr(
        auth.jwt, "decode", lambda *a, **k: checks.append(1) or real_decode(*a, **k)
    )

    async def verify_three_times() -> list[str]:
        return [(await verifier.verify(token)).account_id for _ in range(3)]

    assert asyncio.run(verify_three_times()) == ["acct-1"] * 3
    assert len(checks) == 1


def test_a_remembered_token_still_expires(tmp_path: Path) -> None:
    mint = TokenMint(tmp_path)
    verifier = verifier_for(mint)
    token = mint.token(ttl_s=1.5)

    async def verify_then_after_expiry() -> str:
        await verifier.verify(token)
        expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
        await asyncio.sleep(max(0.0, expires_at - time.time() + 0.1))
        return await refusal(verifier, token)

    assert asyncio.run(verify_then_after_expiry()) == "TOKEN_EXPIRED"


def test_a_tampered_copy_of_a_remembered_token_is_refused(tmp_path: Path) -> None:
    mint = TokenMint(tmp_path)
    verifier = verifier_for(mint)
    token = mint.token(role="member")
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"

    async def verify_both() -> str:
        await verifier.verify(token)
        return await refusal(verifier, tampered)

    assert asyncio.run(verify_both()) == "UNAUTHORIZED"
