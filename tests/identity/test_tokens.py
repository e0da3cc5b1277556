"""Access and refresh tokens: rotation with reuse detection, verification that rejects every
kind of bad token, the signing key and its published JWKS, and tokens outliving identity."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.support.platform import LocalPlatform
from tests.support.users import Member, sign_up


def post(platform: LocalPlatform, path: str, body: object) -> httpx.Response:
    return httpx.post(f"{platform.gateway}/api/v1{path}", json=body, timeout=30)


def me(platform: LocalPlatform, token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(f"{platform.gateway}/api/v1/auth/me", headers=headers, timeout=10)


def signing_key(platform: LocalPlatform) -> Ed25519PrivateKey:
    pem = (platform.data_dir / "secrets" / "identity-signing-key.pem").read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def claims_of(member: Member) -> dict[str, Any]:
    return dict(jwt.decode(member.access_token, options={"verify_signature": False}))


def test_access_token_claims(platform: LocalPlatform) -> None:
    member = sign_up(platform, plan="basic", profile=None)
    header = jwt.get_unverified_header(member.access_token)
    claims = claims_of(member)
    assert header["alg"] == "EdDSA" and header["kid"]
    assert {"iss", "aud", "sub", "typ", "role", "plan", "email", "iat", "exp"} <= set(claims)
    assert (claims["iss"], claims["aud"], claims["typ"]) == (
        "cinemesh-identity",
        "cinemesh",
        "access",
    )
    assert (claims["role"], claims["plan"], claims["email"]) == ("member", "basic", member.email)
    assert claims["exp"] - claims["iat"] == 900
    assert me(platform, member.access_token).json()["id"] == claims["sub"]


def test_refresh_rotates_and_reuse_revokes_the_family(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)
    first = post(platform, "/auth/refresh", {"refresh_token": member.refresh_token})
    assert first.status_code == 200
    assert first.json()["refresh_token"] != member.refresh_token
    assert me(platform, first.json()["access_token"]).status_code == 200
    second = post(platform, "/auth/refresh", {"refresh_token": first.json()["refresh_token"]})
    assert second.status_code == 200
    reused = post(platform, "/auth/refresh", {"refresh_token": member.refresh_token})
    assert reused.status_code == 401 and reused.json()["error"]["code"] == "REFRESH_TOKEN_REUSED"
    latest = post(platform, "/auth/refresh", {"refresh_token": second.json()["refresh_token"]})
    assert latest.status_code == 401, "the whole family is revoked after a reuse"


def test_reuse_revokes_only_that_sign_in(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)
    other = post(platform, "/auth/login", {"email": member.email, "password": member.password})
    assert post(platform, "/auth/refresh", {"refresh_token": member.refresh_token}).is_success
    post(platform, "/auth/refresh", {"refresh_token": member.refresh_token})
    untouched = post(platform, "/auth/refresh", {"refresh_token": other.json()["refresh_token"]})
    assert untouched.status_code == 200, "another device's sign-in keeps working"


def test_racing_refreshes_of_one_token_issue_at_most_one(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)

    def refresh(_: int) -> httpx.Response:
        return post(platform, "/auth/refresh", {"refresh_token": member.refresh_token})

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(refresh, range(6)))
    winners = [a for a in answers if a.status_code == 200]
    assert len(winners) <= 1 and all(a.status_code in (200, 401) for a in answers)
    for winner in winners:  # the others were reuses, so the winner's family is revoked too
        again = post(platform, "/auth/refresh", {"refresh_token": winner.json()["refresh_token"]})
        assert again.status_code == 401


def test_logout_revokes_the_refresh_token(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)
    refreshed = post(platform, "/auth/refresh", {"refresh_token": member.refresh_token}).json()
    out = post(platform, "/auth/logout", {"refresh_token": refreshed["refresh_token"]})
    assert out.status_code == 204
    again = post(platform, "/auth/refresh", {"refresh_token": refreshed["refresh_token"]})
    assert again.status_code == 401
    unknown = post(platform, "/auth/logout", {"refresh_token": "never-issued-token-xyz"})
    assert unknown.status_code == 204, "signing out twice is fine"


@pytest.mark.parametrize(
    "body", [{}, {"refresh_token": "short"}, {"refresh_token": "x" * 300}, {"refresh_token": 7}]
)
def test_malformed_refresh_is_422(platform: LocalPlatform, body: object) -> None:
    assert post(platform, "/auth/refresh", body).status_code == 422


def test_unknown_refresh_token_is_401(platform: LocalPlatform) -> None:
    response = post(platform, "/auth/refresh", {"refresh_token": "never-issued-token-xyz"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_REFRESH_TOKEN"


def sign(claims: dict[str, Any], key: Any, kid: str, alg: str = "EdDSA") -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hs256(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """The algorithm-confusion attack: HMAC keyed with the public key (PyJWT won't make it)."""
    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'kid': kid}).encode())}.{b64(json.dumps(claims).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def test_expired_forged_wrong_key_and_alg_none_tokens_are_401(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)
    kid = jwt.get_unverified_header(member.access_token)["kid"]
    header, payload, _sig = member.access_token.split(".")
    claims = claims_of(member)
    real = signing_key(platform)
    now = int(time.time())
    public_pem = real.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    none_header = b64(json.dumps({"alg": "none", "kid": kid}).encode())
    bad = {
        "alg=none": f"{none_header}.{payload}.",
        "wrong key, real kid": sign(claims, Ed25519PrivateKey.generate(), kid),
        "unknown kid": sign(claims, Ed25519PrivateKey.generate(), "not-a-kid"),
        "tampered claims": f"{header}.{b64(json.dumps({**claims, 'role': 'admin'}).encode())}."
        + member.access_token.split(".")[2],
        "HS256 with the public key": hs256(claims, public_pem, kid),
        "expired": sign({**claims, "iat": now - 1000, "exp": now - 60}, real, kid),
        "refresh typ": sign({**claims, "typ": "refresh"}, real, kid),
        "other audience": sign({**claims, "aud": "someone-else"}, real, kid),
        "other issuer": sign({**claims, "iss": "evil"}, real, kid),
        "no exp": sign({k: v for k, v in claims.items() if k != "exp"}, real, kid),
        "garbage": "not-a-token",
    }
    for name, token in bad.items():
        response = me(platform, token)
        assert response.status_code == 401, (name, response.text)
        assert response.json()["error"]["code"] in ("UNAUTHORIZED", "TOKEN_EXPIRED"), name
    expired = me(platform, bad["expired"]).json()["error"]["code"]
    assert expired == "TOKEN_EXPIRED"
    made_with_the_real_key = sign({**claims, "jti": "mine"}, real, kid)
    assert me(platform, made_with_the_real_key).status_code == 200, "the checks can pass"


def test_jwks_is_served_and_written_and_the_key_is_private(platform: LocalPlatform) -> None:
    member = sign_up(platform, profile=None)
    kid = jwt.get_unverified_header(member.access_token)["kid"]
    written = json.loads((platform.data_dir / "identity" / "jwks.json").read_text())
    for instance in (0, 1):
        served = httpx.get(
            platform.url_of("identity", instance) + "/v1/jwks", headers=platform.headers, timeout=5
        ).json()
        assert served == written, "instances share one key"
    (entry,) = written["keys"]
    assert (entry["kid"], entry["kty"], entry["crv"], entry["alg"]) == (
        kid,
        "OKP",
        "Ed25519",
        "EdDSA",
    )
    assert "d" not in entry, "only the public half is published"
    key_file = platform.data_dir / "secrets" / "identity-signing-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    secret_line = key_file.read_text().splitlines()[1]
    for instance in (0, 1):
        assert secret_line not in platform.log("identity", instance)
    unauthenticated = httpx.get(platform.url_of("identity") + "/v1/jwks", timeout=5)
    assert unauthenticated.status_code in (401, 403), "internal API needs the service credential"


def test_tokens_keep_working_while_identity_is_down(platform: LocalPlatform) -> None:
    """The supervisor restarts a killed service at once, so the kill asks it to hold identity
    down (`hold_s`) until the test revives it: no race against the restart backoff. A profiles
    instance started while identity is down proves the fallback to the JWKS file too."""
    member = sign_up(platform, profile=None)
    platform.control("POST", "/kill", json={"service": "identity", "hold_s": 600})
    try:
        time.sleep(1.0)
        assert not [i for i in platform.instances("identity") if i["healthy"]]
        platform.kill("profiles")
        time.sleep(0.5)
        platform.wait_healthy(service="profiles", timeout_s=60)
        deadline = time.monotonic() + 20
        while True:
            listed = httpx.get(
                f"{platform.gateway}/api/v1/profiles", headers=member.headers, timeout=10
            )
            if listed.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)  # the gateway's breaker to profiles closes again
        assert listed.status_code == 200, listed.text
        down = post(platform, "/auth/login", {"email": member.email, "password": member.password})
        assert down.status_code == 503 and down.json()["error"]["code"] == "IDENTITY_UNAVAILABLE"
        assert "retry-after" in down.headers
    finally:
        platform.control("POST", "/revive", json={"service": "identity"})
        platform.wait_healthy(service="identity", count=2, timeout_s=60)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        again = post(platform, "/auth/login", {"email": member.email, "password": member.password})
        if again.status_code == 200:
            break
        time.sleep(0.5)
    assert again.status_code == 200, "sign-in comes back with identity"
