"""Backfill progress of every provider that reports it, interleaved as it arrives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import msgspec

from training_gateway.adapters.base import Operations, capability
from training_gateway.gateway.services.sources import AnySource, Source, UnusableSource
from training_gateway.gateway.wire import BackfillLine as BackfillLine
from training_gateway.models.errors import GatewayError


async def _lines_of(source: AnySource) -> AsyncIterator[BackfillLine]:
    match source:
        case UnusableSource(name=name, error=error):
            yield BackfillLine(provider=name, error=error.detail)
        case Source(name=name):
            reporter = capability(source.adapter, Operations.BACKFILL_STATUS)
            try:
                async for until in reporter.backfill_status(source.credentials):
                    yield BackfillLine(provider=name, backfill_loaded_until=until)
            except GatewayError as exc:
                yield BackfillLine(provider=name, error=exc.detail)


async def merged_backfill(
    sources: list[AnySource], window_s: float, first: Sequence[BackfillLine] = ()
) -> AsyncIterator[bytes]:
    """`first`, then each provider's backfill lines as NDJSON, interleaved as they arrive,
    until every provider's stream has closed or `window_s` has passed."""
    for known in first:
        yield msgspec.json.encode(known) + b"\n"
    queue: asyncio.Queue[BackfillLine | None] = asyncio.Queue()

    async def pump(source: AnySource) -> None:
        try:
            async for line in _lines_of(source):
                await queue.put(line)
        finally:
            await queue.put(None)

    tasks = [asyncio.create_task(pump(s)) for s in sources]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + window_s
    open_streams = len(tasks)
    try:
        while open_streams:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                line = await asyncio.wait_for(queue.get(), timeout=remaining)
            except TimeoutError:
                return
            if line is None:
                open_streams -= 1
                continue
            yield msgspec.json.encode(line) + b"\n"
    finally:
        for task in tasks:
            task.cancel()
