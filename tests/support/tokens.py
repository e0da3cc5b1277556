"""Access tokens minted by the tests themselves, for platforms run without identity: an Ed25519
key whose public half is written where the chassis's TokenVerifier falls back to
(`<data_dir>/identity/jwks.json`), and tokens carrying the claims it checks."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cinemesh.platform.auth import JWT_AUDIENCE, JWT_ISSUER


@dataclass
class TokenMint:
    """Signs access tokens that every service of a platform without identity accepts."""

    data_dir: Path
    kid: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:8]}")
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    def __post_init__(self) -> None:
        public = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.key.public_key()))
        jwks = {"keys": [{**public, "kid": self.kid, "alg": "EdDSA", "use": "sig"}]}
        folder = self.data_dir / "identity"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "jwks.json").write_text(json.dumps(jwks))

    def token(
        self,
        *,
        account_id: str | None = None,
        role: str = "member",
        plan: str = "premium",
        ttl_s: float = 3600,
        typ: str = "access",
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": JWT_ISSUER,
            "aud": JWT_AUDIENCE,
            "sub": account_id or f"acct-{uuid.uuid4().hex[:12]}",
            "role": role,
            "plan": plan,
            "email": "",
            "typ": typ,
            "iat": now,
            "exp": now + int(ttl_s),
        }
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": self.kid})

    def headers(self, **claims: object) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(**claims)}"}  # type: ignore[arg-type]

    def admin_headers(self) -> dict[str, str]:
        return self.headers(role="admin")
