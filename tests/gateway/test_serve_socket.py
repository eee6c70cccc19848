"""The gateway's own listening socket: connections it accepts send without Nagle's delay."""

from __future__ import annotations

import socket

from training_gateway.adapters._mock.server import free_loopback_port
from training_gateway.gateway.serve import bind


def test_accepted_connections_have_tcp_nodelay() -> None:
    # Without it every keep-alive response written in two parts (headers, then body) waited
    # for the client's delayed ACK: /health took 43 ms on a reused connection, 0.7 ms with it.
    listener = bind("127.0.0.1", free_loopback_port())
    try:
        client = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
        with client, accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        listener.close()
