"""An address that outlives its instance (runner/addresses.py): a connection waiting on it when
one holder closes its copy is taken by the next holder, not reset; an address nobody holds
refuses at once; bound again, it is the same port."""

from __future__ import annotations

import os
import socket

import pytest

from cinemesh.runner.addresses import StableAddress, keeps_its_address


def test_a_waiting_connection_survives_the_holder_that_closes() -> None:
    address = StableAddress()
    sock = address.open()
    old_holder = socket.socket(fileno=os.dup(sock.fileno()))  # the instance that drains
    new_holder = socket.socket(fileno=os.dup(sock.fileno()))  # the one replacing it
    try:
        waiting = socket.create_connection(("127.0.0.1", address.port), timeout=2)
        old_holder.close()
        accepted, _ = new_holder.accept()
        waiting.sendall(b"ping")
        assert accepted.recv(4) == b"ping"
        accepted.close()
        waiting.close()
    finally:
        new_holder.close()
        address.close()


def test_an_address_nobody_holds_refuses_and_comes_back_on_its_port() -> None:
    address = StableAddress()
    port = address.open().getsockname()[1]
    address.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    assert address.open().getsockname()[1] == port
    assert address.url == f"http://127.0.0.1:{port}"
    address.close()


def test_only_the_edge_keeps_its_address() -> None:
    assert keeps_its_address("edge")
    assert not keeps_its_address("gateway") and not keeps_its_address("playback")


def test_a_fixed_port_taken_by_another_is_an_error_not_another_port() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        public = StableAddress(port=taken.getsockname()[1], advertised=False, fixed=True)
        with pytest.raises(OSError):
            public.open()
        moved = StableAddress(port=taken.getsockname()[1])
        assert moved.open().getsockname()[1] != taken.getsockname()[1]
        moved.close()
    finally:
        taken.close()
