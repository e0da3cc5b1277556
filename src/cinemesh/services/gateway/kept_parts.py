"""What history, profiles and the recommender answered for a profile's home page, kept between
pages until the service that owns it says it changed.

Building a page asked all three every time: three calls out and three requests in, most of a
page's CPU, for answers that change only when the profile does something (watches, edits its
list) or the recommender starts serving a new model. Each of these services already sends a
notice naming the profiles whose data it changed (contracts/notices.py), so the gateway keeps
each answer, as bytes, until a notice names its profile (platform/kept.py: nothing kept while
the bus is down, a read that overlapped a notice or began just after one is not kept).

A kept answer is used only while its service is known to answer: within `answered_within_s`
of its last answer to any call from this instance (ServiceClient.answered_within). Past that,
the next page asks the service again (one call refreshes the answer and shows the service
alive), so a dead or slow service is still seen on the next page: its rows are dropped or
replaced, `degraded` names it, and its breaker counts the failure, exactly as when nothing was
kept."""

from __future__ import annotations

from collections.abc import Callable

from cinemesh.contracts.notices import (
    MY_LIST_CHANGED,
    POSITIONS_CHANGED,
    RECOMMENDER_HISTORIES_CHANGED,
    RECOMMENDER_MODEL_CHANGED,
)
from cinemesh.platform.kept import KeptReads, Ticket
from cinemesh.platform.runtime import ServiceRuntime

# which notice says a service's answer for a profile changed (and which one clears them all)
NOTICES: dict[str, tuple[str, str | None]] = {
    "history": (POSITIONS_CHANGED, None),
    "profiles": (MY_LIST_CHANGED, None),
    "recommender": (RECOMMENDER_HISTORIES_CHANGED, RECOMMENDER_MODEL_CHANGED),
}
SETTLE_S = 0.25  # far longer than one notice takes to reach every listener on the bus
MAX_ACCOUNTS = 50_000


class KeptParts:
    def __init__(
        self, parts: dict[str, KeptReads[bytes]], *, answering: Callable[[str], bool]
    ) -> None:
        self.parts = parts
        self.answering = answering  # whether a service answered this instance lately
        self._profiles_of: dict[str, set[str]] = {}  # account -> profiles with kept answers

    @classmethod
    def listening(
        cls, runtime: ServiceRuntime, *, max_age_s: float, answered_within_s: float
    ) -> KeptParts:
        parts = {
            service: runtime.kept_reads(
                notice, max_age_s=max_age_s, settle_s=SETTLE_S, cleared_by=cleared_by
            )
            for service, (notice, cleared_by) in NOTICES.items()
        }
        return cls(
            parts,
            answering=lambda service: runtime.clients(service).answered_within(answered_within_s),
        )

    def get(self, service: str, profile_id: str) -> bytes | None:
        """The kept answer, while the service answered this instance recently."""
        if not self.answering(service):
            return None
        return self.parts[service].get(profile_id)

    def ticket(self, service: str) -> Ticket:
        return self.parts[service].ticket()

    def keep(
        self, service: str, account_id: str, profile_id: str, body: bytes, ticket: Ticket
    ) -> None:
        """`service` answered with `body`: keep it unless a notice came in between."""
        self.parts[service].keep(profile_id, body, ticket)
        self._profiles_of.setdefault(account_id, set()).add(profile_id)
        if len(self._profiles_of) > MAX_ACCOUNTS:
            del self._profiles_of[next(iter(self._profiles_of))]

    def forget_account(self, account_id: str) -> None:
        """The member changed something through this gateway: ask again on their next page."""
        profiles = self._profiles_of.pop(account_id, set())
        for kept in self.parts.values():
            kept.forget(profiles)
