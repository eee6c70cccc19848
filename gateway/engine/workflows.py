"""The engine's jobs, as DBOS workflows: each step's result is checkpointed in the engine's
database, so a job whose worker dies resumes at the step it was in, on another worker or the
same one restarted. Steps are at least once; the services they call are written for that.

The workflows reach the running gateway through `install(context)`, done by the worker
before it launches DBOS (DBOS needs its workflows registered before it starts).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import msgspec
from dbos import DBOS, SetEnqueueOptions, SetWorkflowID

from training_gateway.gateway.jobs import DELIVERY_QUEUE
from training_gateway.gateway.observability import using_request_id
from training_gateway.gateway.services.events import Sender
from training_gateway.gateway.services.sync import Sync
from training_gateway.gateway.storage.index import KINDS
from training_gateway.models.errors import GatewayError, ProviderError

_log = logging.getLogger("gateway.engine")


@dataclass
class EngineContext:
    sync: Sync
    sender: Sender
    # Seconds between two pages of a backfill.
    backfill_pause_s: float


_context: EngineContext | None = None


def install(context: EngineContext | None) -> None:
    global _context
    _context = context


def _ctx() -> EngineContext:
    if _context is None:  # a worker always installs it before launching DBOS
        raise RuntimeError("the engine's context is not installed")
    return _context


# deliveries


@DBOS.step(retries_allowed=True, max_attempts=5, interval_seconds=1.0, backoff_rate=2.0)
async def _attempt(job_id: str, wanted: list[tuple[str, int]]) -> list[Any]:
    outcomes = await _ctx().sender.attempt_many(job_id, [(d, n) for d, n in wanted])
    return [msgspec.to_builtins(outcome) for outcome in outcomes]


@DBOS.workflow(name="deliver")
async def deliver(wanted: list[tuple[str, int]]) -> int:
    """Attempt each (delivery, attempt number) at once; schedule each failed one's next
    attempt as a delayed job (durable, so a schedule outlives restarts)."""
    job_id = DBOS.workflow_id or "deliver"
    delivered = 0
    queue = await DBOS.retrieve_queue_async(DELIVERY_QUEUE)
    for delivery_id, attempt, ok, retry_in_s, _give_up in await _attempt(job_id, wanted):
        delivered += bool(ok)
        if retry_in_s is None or queue is None:
            continue
        with SetWorkflowID(f"deliver-{delivery_id}-{attempt + 1}"):
            with SetEnqueueOptions(delay_seconds=retry_in_s):
                await queue.enqueue_async(deliver, [(delivery_id, attempt + 1)])
    return delivered


# provider webhooks


@DBOS.step(retries_allowed=True, max_attempts=6, interval_seconds=2.0, backoff_rate=2.0)
async def _process_inbound(provider: str, dedupe_key: str) -> Any:
    try:
        return msgspec.to_builtins(await _ctx().sync.process_inbound(provider, dedupe_key))
    except ProviderError:
        raise
    except GatewayError as exc:  # not the provider's failure: trying again will not help
        _log.warning("a %s webhook could not be processed: %s", provider, exc.detail)
        return None


@DBOS.workflow(name="inbound")
async def inbound(provider: str, dedupe_key: str, request_id: str | None = None) -> Any:
    """Process one provider webhook: retried while the provider fails; a webhook that cannot
    be processed for another reason (a revoked connection) is logged, not retried. It runs
    as part of the request that received it (`request_id`: log lines, provider calls)."""
    with using_request_id(request_id):
        try:
            return await _process_inbound(provider, dedupe_key)
        except Exception as exc:  # the provider failed every retry
            _log.warning("a %s webhook could not be processed: %s", provider, _reason(exc))
            return None


# reconciliation


@DBOS.step(retries_allowed=True, max_attempts=3, interval_seconds=5.0, backoff_rate=2.0)
async def _reconcile(user_id: str, provider: str) -> Any:
    try:
        return msgspec.to_builtins(await _ctx().sync.reconcile(user_id, provider))
    except ProviderError:
        raise
    except GatewayError as exc:  # not the provider's failure: trying again will not help
        _log.warning("reconciling a %s connection failed: %s", provider, exc.detail)
        return None


@DBOS.workflow(name="reconcile")
async def reconcile(user_id: str, provider: str) -> Any:
    try:
        return await _reconcile(user_id, provider)
    except Exception as exc:  # the provider failed every retry; the next slot tries again
        _log.warning("reconciling a %s connection failed: %s", provider, _reason(exc))
        return None


# backfill


@DBOS.step(retries_allowed=True, max_attempts=5, interval_seconds=2.0, backoff_rate=2.0)
async def _backfill_page(
    user_id: str, provider: str, kind: str, since: str | None, offset: int
) -> Any:
    page = await _ctx().sync.backfill_page(user_id, provider, kind, since, offset)  # type: ignore[arg-type]
    return msgspec.to_builtins(page)


@DBOS.step()
async def _backfill_failed(user_id: str, provider: str, detail: str) -> None:
    await _ctx().sync.backfill_failed(user_id, provider, detail)


@DBOS.workflow(name="backfill")
async def backfill(user_id: str, provider: str, since: str | None) -> int:
    """Index a connection's history a page at a time, pausing between pages so a backfill
    never crowds out the provider's rate limit; a page is a step, so a restarted backfill
    goes on from the page it was in."""
    indexed = 0
    try:
        for kind in KINDS:
            offset = 0
            while True:
                count, read, done = await _backfill_page(user_id, provider, kind, since, offset)
                indexed += count
                offset += read
                if done:
                    break
                await DBOS.sleep_async(_ctx().backfill_pause_s)
    except Exception as exc:  # the provider failed every retry
        await _backfill_failed(user_id, provider, _reason(exc))
    return indexed


def _reason(exc: BaseException) -> str:
    """What to say of a job's failure: a gateway error's detail, wherever DBOS wrapped it."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, GatewayError):
            return seen.detail
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__
