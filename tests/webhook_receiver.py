"""A webhook receiver for tests: an ASGI app, served on loopback, that records every request it
gets and answers each as scripted (a status, after a delay)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Answer:
    """How the receiver answers one request."""

    status: int = 200
    delay_s: float = 0.0


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    method: str
    path: str
    headers: httpx.Headers
    body: bytes


class WebhookReceiver:
    """Records every request; answers the next ones as queued by `answer_next`, then 200."""

    def __init__(self) -> None:
        self._received: list[Received] = []
        self._answers: deque[Answer] = deque()
        self._cond = threading.Condition()

    def answer_next(self, *answers: Answer) -> None:
        with self._cond:
            self._answers.extend(answers)

    @property
    def received(self) -> list[Received]:
        with self._cond:
            return list(self._received)

    def wait_for(self, count: int, timeout_s: float = 30.0) -> list[Received]:
        """The first `count` requests, once they have arrived."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while len(self._received) < count:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"{len(self._received)} of {count} requests arrived"
                self._cond.wait(remaining)
            return self._received[:count]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = httpx.Headers([(k.decode(), v.decode()) for k, v in scope["headers"]])
        with self._cond:
            self._received.append(Received(scope["method"], scope["path"], headers, body))
            answer = self._answers.popleft() if self._answers else Answer()
            self._cond.notify_all()
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [(b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})
