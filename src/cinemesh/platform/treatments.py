"""A profile's experiment treatments travel with every call made on its behalf, the way the
request priority does (concurrency.py): the gateway looks up the profile's cells once per
request and carries their treatments (`carry_treatments`), the resilient client sends them in
TREATMENTS_HEADER on every call the request makes (http.py), and each service takes them from
its caller (middleware.py), so the calls it makes in turn carry them on and its own code can
read them (`carried_treatments`). A public service takes none from its caller: a client never
picks its own cell. What the header holds is the experiments' contract
(contracts/treatments.py); the chassis only carries it."""

from __future__ import annotations

from contextvars import ContextVar, Token

TREATMENTS_HEADER = "X-Cinemesh-Treatments"

_carried: ContextVar[str] = ContextVar("cinemesh_treatments", default="")


def carried_treatments() -> str:
    """The treatments of the request (or background work) this code runs for; "" for none."""
    return _carried.get()


def carry_treatments(treatments: str) -> Token[str]:
    """Every call the current request makes from here on carries `treatments` (the middleware
    puts back what was carried before when the request ends)."""
    return _carried.set(treatments)


def stop_carrying(token: Token[str]) -> None:
    _carried.reset(token)
