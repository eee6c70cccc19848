"""Fault injection for mocks: added latency, forced error statuses and undecodable bodies.

Wraps any ASGI app, so tests and benchmarks can make a provider slow or broken at run time:
in-process through `FaultInjector`'s methods, or from another process through the mock's
loopback-only control route `/_mock/faults` (GET shows the settings; POST takes
`{"latency_ms": 50, "fail_next": {"status": 503, "times": 2, "methods": ["GET"]},
"garble_next": 1, "reset": true}`, any part of it).

Every other path under `/_mock/` goes to the mock's control app (`adapters._mock.control`),
to loopback clients only and without faults, so a test's injected failure is never spent on
the route that drives the mock.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections.abc import Iterable
from typing import Any

import msgspec

Scope = dict[str, Any]


class FaultInjector:
    """An ASGI wrapper; its settings may be changed from any thread while it serves."""

    def __init__(self, app: Any, *, control: Any = None) -> None:
        """`control` is the ASGI app of the mock's other control routes (under `/_mock/`)."""
        self.app = app
        self.control = control
        self.latency_s = 0.0
        self._lock = threading.Lock()
        self._fail_status: int | None = None
        self._fail_headers: dict[str, str] = {}
        self._fail_remaining = 0
        self._fail_methods: frozenset[str] | None = None
        self._garble_remaining = 0
        self.requests_seen = 0

    def fail_next(
        self,
        status: int = 500,
        times: int = 1,
        *,
        methods: Iterable[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` API requests (of `methods` only, when given) with `status`
        and `headers` (e.g. `{"Retry-After": "2"}` with a 429)."""
        with self._lock:
            self._fail_status, self._fail_remaining = status, times
            self._fail_methods = frozenset(m.upper() for m in methods) if methods else None
            self._fail_headers = dict(headers or {})

    def garble_next(self, times: int = 1) -> None:
        """Answer the next `times` API requests 200 with a body that is not the documented JSON."""
        with self._lock:
            self._garble_remaining = times

    def reset(self) -> None:
        with self._lock:
            self.latency_s = 0.0
            self._fail_status, self._fail_remaining, self._garble_remaining = None, 0, 0
            self._fail_methods = None
            self._fail_headers = {}

    def settings(self) -> dict[str, Any]:
        with self._lock:
            return {
                "latency_ms": self.latency_s * 1000,
                "fail_next": {
                    "status": self._fail_status,
                    "times": self._fail_remaining,
                    "methods": sorted(self._fail_methods) if self._fail_methods else None,
                    "headers": dict(self._fail_headers) or None,
                },
                "garble_next": self._garble_remaining,
                "requests_seen": self.requests_seen,
            }

    def apply(self, change: FaultChange) -> None:
        """Apply a change sent to the control route."""
        if change.reset:
            self.reset()
        if change.latency_ms is not None:
            self.latency_s = change.latency_ms / 1000
        if change.fail_next is not None:
            failing = change.fail_next
            self.fail_next(
                failing.status, failing.times, methods=failing.methods, headers=failing.headers
            )
        if change.garble_next is not None:
            self.garble_next(change.garble_next)

    def _take(self, method: str) -> tuple[int | None, dict[str, str], bool]:
        with self._lock:
            self.requests_seen += 1
            if self._fail_remaining > 0 and (
                self._fail_methods is None or method in self._fail_methods
            ):
                self._fail_remaining -= 1
                return self._fail_status, self._fail_headers, False
            if self._garble_remaining > 0:
                self._garble_remaining -= 1
                return None, {}, True
            return None, {}, False

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(CONTROL_PREFIX):
            if not _from_loopback(scope):
                await _respond(send, 403, b'{"detail":"the mock control route is loopback only"}')
            elif scope["path"] == CONTROL_PATH:
                await self._control(scope, receive, send)
            elif self.control is not None:
                await self.control(scope, receive, send)
            else:
                await _respond(send, 404, b'{"detail":"Not Found"}')
            return
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        status, headers, garble = self._take(scope["method"])
        if status is not None:
            body = b'{"detail":"injected fault"}'
            await _respond(send, status, body, headers)
            return
        if garble:
            await _respond(send, 200, b'{"unexpected": [1, 2, ')
            return
        await self.app(scope, receive, send)

    async def _control(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["method"] == "POST":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            try:
                self.apply(msgspec.json.decode(body or b"{}", type=FaultChange))
            except msgspec.DecodeError as exc:
                await _respond(send, 422, msgspec.json.encode({"detail": str(exc)}))
                return
        elif scope["method"] != "GET":
            await _respond(send, 405, b'{"detail":"GET or POST"}')
            return
        await _respond(send, 200, msgspec.json.encode(self.settings()))


CONTROL_PATH = "/_mock/faults"
#: Every control route starts with this (`adapters._mock.control` serves the others).
CONTROL_PREFIX = "/_mock/"


def _from_loopback(scope: Scope) -> bool:
    client = (scope.get("client") or ("", 0))[0]
    try:
        return ipaddress.ip_address(client).is_loopback
    except ValueError:
        return False


class FailNext(msgspec.Struct, forbid_unknown_fields=True):
    status: int = 500
    times: int = 1
    methods: list[str] | None = None
    headers: dict[str, str] | None = None


class FaultChange(msgspec.Struct, forbid_unknown_fields=True):
    """A change of a mock's faults, as the control route takes it."""

    reset: bool = False
    latency_ms: float | None = None
    fail_next: FailNext | None = None
    garble_next: int | None = None


async def _respond(
    send: Any, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
