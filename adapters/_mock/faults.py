"""Fault injection for mocks: added latency, forced error statuses and undecodable bodies.

Wraps any ASGI app, so tests and benchmarks can make a provider slow or broken at run time.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

Scope = dict[str, Any]


class FaultInjector:
    """An ASGI wrapper; its settings may be changed from any thread while it serves."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.latency_s = 0.0
        self._lock = threading.Lock()
        self._fail_status: int | None = None
        self._fail_remaining = 0
        self._garble_remaining = 0
        self.requests_seen = 0

    def fail_next(self, status: int = 500, times: int = 1) -> None:
        """Answer the next `times` API requests with `status` (a problem body)."""
        with self._lock:
            self._fail_status, self._fail_remaining = status, times

    def garble_next(self, times: int = 1) -> None:
        """Answer the next `times` API requests 200 with a body that is not the documented JSON."""
        with self._lock:
            self._garble_remaining = times

    def reset(self) -> None:
        with self._lock:
            self.latency_s = 0.0
            self._fail_status, self._fail_remaining, self._garble_remaining = None, 0, 0

    def _take(self) -> tuple[int | None, bool]:
        with self._lock:
            self.requests_seen += 1
            if self._fail_remaining > 0:
                self._fail_remaining -= 1
                return self._fail_status, False
            if self._garble_remaining > 0:
                self._garble_remaining -= 1
                return None, True
            return None, False

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        status, garble = self._take()
        if status is not None:
            body = b'{"detail":"injected fault"}'
            await _respond(send, status, body)
            return
        if garble:
            await _respond(send, 200, b'{"unexpected": [1, 2, ')
            return
        await self.app(scope, receive, send)


async def _respond(send: Any, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
