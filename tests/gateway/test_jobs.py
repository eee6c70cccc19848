"""Enqueueing from a request: a deferred job is enqueued after the answer, not in it."""

from __future__ import annotations

import asyncio
from typing import Any

from training_gateway.gateway.jobs import INBOUND_QUEUE, Jobs


class _Recording(Jobs):
    """Jobs whose enqueueing waits for `release` and records what it enqueued, so a test
    sees what happens while an enqueue is slow (as a busy engine database makes it)."""

    def __init__(self) -> None:
        self._pending = {}
        self._deferred = {}
        self._flusher = None
        self.release = asyncio.Event()
        self.enqueued: list[tuple[Any, ...]] = []

    async def enqueue(
        self, workflow: str, queue: str, job_id: str, *args: Any, delay_s: float = 0.0
    ) -> None:
        await self.release.wait()
        self.enqueued.append((workflow, queue, job_id, *args))


async def test_a_deferred_job_is_enqueued_after_the_caller_goes_on() -> None:
    jobs = _Recording()

    jobs.defer("inbound", INBOUND_QUEUE, "inbound-sweatstack-a", "sweatstack", "a")
    jobs.defer("inbound", INBOUND_QUEUE, "inbound-sweatstack-b", "sweatstack", "b")
    jobs.defer("inbound", INBOUND_QUEUE, "inbound-sweatstack-a", "sweatstack", "a")  # again

    assert jobs.enqueued == []  # defer returned without waiting for the engine's database
    jobs.release.set()
    assert jobs._flusher is not None  # the enqueueing went on in the background
    await asyncio.wait_for(jobs._flusher, 5)
    assert sorted(jobs.enqueued) == [
        ("inbound", INBOUND_QUEUE, "inbound-sweatstack-a", "sweatstack", "a"),
        ("inbound", INBOUND_QUEUE, "inbound-sweatstack-b", "sweatstack", "b"),
    ]


async def test_closing_enqueues_what_was_deferred() -> None:
    jobs = _Recording()
    jobs.release.set()

    jobs.defer("inbound", INBOUND_QUEUE, "inbound-sweatstack-c", "sweatstack", "c")
    await jobs.flush()

    assert jobs.enqueued == [("inbound", INBOUND_QUEUE, "inbound-sweatstack-c", "sweatstack", "c")]
