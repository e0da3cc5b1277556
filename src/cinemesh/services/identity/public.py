"""What of the identity code runs outside the service, and nothing more:
`bench/identity_bench.py` signs in with the service's argon2id parameters and signs tokens with
its key. Code outside `cinemesh.services.identity` imports identity through this module only
(`make contracts` checks it)."""

from __future__ import annotations

from cinemesh.services.identity.keys import SigningKey
from cinemesh.services.identity.passwords import ARGON2_PARAMS

__all__ = ["ARGON2_PARAMS", "SigningKey"]
