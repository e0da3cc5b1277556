"""The Ed25519 key that signs access tokens, and the public JWKS other services verify with."""

from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cinemesh.platform.auth import JWT_AUDIENCE, JWT_ISSUER
from cinemesh.platform.errors import StartupError
from cinemesh.platform.secrets import read_or_create_file

KEY_FILE = "identity-signing-key.pem"
KEY_SETTING = "CINEMESH_IDENTITY_SIGNING_KEY_PEM"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    kid: str

    @classmethod
    def load_or_create(cls, *, secrets: Path, configured_pem: str) -> SigningKey:
        """From the setting (a Kubernetes Secret), else the shared data dir, else a new one."""
        pem = (
            configured_pem.encode()
            if configured_pem
            else read_or_create_file(secrets / KEY_FILE, _new_pem)
        )
        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            private = None
        if not isinstance(private, Ed25519PrivateKey):
            source = KEY_SETTING if configured_pem else str(secrets / KEY_FILE)
            raise StartupError(f"{source} does not hold an Ed25519 private key in PEM (PKCS#8)")
        return cls(private, _b64url(hashlib.sha256(_public_raw(private)).digest()[:12]))

    def jwks(self) -> dict[str, Any]:
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64url(_public_raw(self.private))}
        return {"keys": [{**jwk, "kid": self.kid, "alg": "EdDSA", "use": "sig"}]}

    def publish(self, path: Path) -> None:
        """Write the public JWKS where services read it while identity is down."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(orjson.dumps(self.jwks()))
        tmp.replace(path)

    def access_token(self, *, account_id: str, role: str, plan: str, email: str, ttl_s: int) -> str:
        now = int(time.time())
        claims = {
            "iss": JWT_ISSUER,
            "aud": JWT_AUDIENCE,
            "sub": account_id,
            "typ": "access",
            "role": role,
            "plan": plan,
            "email": email,
            "iat": now,
            "exp": now + ttl_s,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.private, algorithm="EdDSA", headers={"kid": self.kid})

    def __repr__(self) -> str:  # the private key never reaches a log line
        return f"SigningKey(kid={self.kid!r})"


def _public_raw(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def _new_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
