"""The local S3 origin starts even when a port it picked is taken before it binds it (CI saw
`weed mini` exit on "address already in use": an outgoing connection had taken the port)."""

from __future__ import annotations

import socket
from pathlib import Path

from cinemesh.runner.seaweed import SeaweedS3


def test_seaweedfs_moves_to_other_ports_when_one_it_picked_is_taken(tmp_path: Path) -> None:
    store = SeaweedS3(tmp_path)
    taken_port = store.ports["s3.port"]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", taken_port))
        taken.listen()
        store.start()
        try:
            assert store.ports["s3.port"] != taken_port
            assert store.endpoint.endswith(f":{store.ports['s3.port']}")
            assert b"Port allocation failed" in store.log_file.read_bytes()
        finally:
            store.stop()
