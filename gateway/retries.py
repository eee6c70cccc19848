"""Retrying provider calls where that is safe: a transport layer of the pooled client, so no
adapter retries anything itself.

The policy:
- an idempotent request (GET, HEAD, OPTIONS) is tried up to `attempts` times on a connect
  error or a 502, 503 or 504, with full-jitter exponential backoff (`backoff_s`, doubling,
  each pause at most `max_backoff_s`), and no new try starts after `deadline_s`;
- any request, writes too, is tried again after a connect error, which proves nothing was
  sent; a write is never retried after it may have reached the provider;
- an idempotent request answered 429 is retried once after the provider's Retry-After when
  that wait is at most `retry_after_budget_s`; otherwise the 429 goes back to the caller
  (the adapter raises ProviderThrottled with the Retry-After).
A read timeout is not retried: it has already used up the request's time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass

import httpx

from training_gateway.adapters.http import retry_after_s

_log = logging.getLogger("gateway.retries")
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRIED_STATUSES = frozenset({502, 503, 504})
# Errors raised before a connection existed: the request cannot have reached the provider.
_NOT_SENT: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout)


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How provider calls are retried (see the module docstring)."""

    attempts: int = 3
    backoff_s: float = 0.1
    max_backoff_s: float = 1.0
    deadline_s: float = 2.0
    retry_after_budget_s: float = 1.0

    def pause_s(self, retry: int) -> float:
        """The pause before retry number `retry` (1, 2, ...): full jitter over an exponential
        ceiling, so replicas that failed together do not come back together."""
        ceiling = min(self.backoff_s * 2 ** (retry - 1), self.max_backoff_s)
        return random.uniform(0, ceiling)


class RetryingTransport(httpx.AsyncBaseTransport):
    """Retries a provider request according to a RetryPolicy; the inner transport sends it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, policy: RetryPolicy) -> None:
        self.inner = inner
        self.policy = policy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        policy = self.policy
        idempotent = request.method.upper() in IDEMPOTENT_METHODS
        await request.aread()  # a body is sent again as it was
        began = time.monotonic()
        tries, waited_out_throttle = 0, False
        while True:
            tries += 1
            last_try = tries >= policy.attempts
            try:
                response = await self.inner.handle_async_request(request)
            except _NOT_SENT as exc:
                pause = None if last_try else self._pause_s(began, tries)
                if pause is None:
                    raise
                _log.info(
                    "retrying %s %s: %s", request.method, request.url.host, type(exc).__name__
                )
                await asyncio.sleep(pause)
                continue
            status = response.status_code
            if not idempotent:
                return response
            if status == 429 and not waited_out_throttle:
                wait = retry_after_s(response.headers.get("retry-after"))
                if wait is None or wait > policy.retry_after_budget_s:
                    return response
                await response.aclose()
                waited_out_throttle = True
                tries -= 1  # waiting out a throttle is not a failed try
                await asyncio.sleep(wait)
                continue
            pause = None if last_try else self._pause_s(began, tries)
            if status not in RETRIED_STATUSES or pause is None:
                return response
            await response.aclose()
            _log.info("retrying %s %s: it answered %d", request.method, request.url.host, status)
            await asyncio.sleep(pause)

    def _pause_s(self, began: float, tries: int) -> float | None:
        """The pause before the next try; None when that try would start past the deadline."""
        pause = self.policy.pause_s(tries)
        if time.monotonic() - began + pause > self.policy.deadline_s:
            return None
        return pause

    async def aclose(self) -> None:
        await self.inner.aclose()
