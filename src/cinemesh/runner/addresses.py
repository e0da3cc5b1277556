"""Addresses that outlive an instance. A player holds an edge's URL for a whole viewing (the
signed manifest and every segment after it), so an edge instance replaced by a deploy must
leave its address to the one that replaces it, as a Kubernetes Service or an Open Connect
appliance's IP outlives the process behind it. The gateway's public port is one such address
shared by every gateway instance.

The supervisor binds the address once and passes the listening socket down to each process
serving it (platform/serve.py takes it from CINEMESH_LISTEN_FD). The old and the new process
then take connections from one queue: once the old one drains and closes its copy, the new one
has every connection that was waiting, where two sockets on one port (SO_REUSEPORT) would
reset those left in the closing one's queue. When no process holds an address any more (its
instance crashed or was stopped) the supervisor closes it too, so callers are refused at once
and move to another edge instead of waiting on a queue nobody reads; the next process binds
the same port again.
"""

from __future__ import annotations

import errno
import socket

# Services whose callers keep an instance's address beyond one call (the rest are found through
# the registry for every call, and leave it when they drain); the gateway's instances share the
# public port instead.
KEEP_THEIR_ADDRESS = frozenset({"edge"})
BACKLOG = 2048


def keeps_its_address(service: str) -> bool:
    return service in KEEP_THEIR_ADDRESS


class StableAddress:
    """One listening socket, bound by the supervisor and inherited by each process serving it.
    An `advertised` address is the one its instances register (the edge's); a `fixed` port is
    never exchanged for another (the public port someone chose)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        advertised: bool = True,
        fixed: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.advertised = advertised
        self.fixed = fixed
        self.sock: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def open(self) -> socket.socket:
        """The socket, bound again on the same port when it was closed (another when that port
        was taken meanwhile)."""
        if self.sock is None:
            self.sock = _listen(self.host, self.port, fixed=self.fixed)
            self.port = self.sock.getsockname()[1]
        return self.sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _listen(host: str, port: int, *, fixed: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE or port == 0 or fixed:
            sock.close()
            raise
        sock.bind((host, 0))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock
