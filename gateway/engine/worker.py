"""A process's worker: DBOS launched on the engine's database, its queues served, and a tick
that keeps the engine whole:

- a heartbeat, so that other workers know this one is alive;
- the recovery of a dead worker's jobs by one of the living (DBOS resumes them where they
  were: a job acknowledged is never lost, including when its worker is killed);
- the schedule: each connection's reconciliation when it is due, as a job named after the
  connection and its time slot, so that every worker may enqueue it and it runs once, and
  a restart picks the schedule up from the database;
- the sweeper: work recorded but not handed over (a crash between the two) is handed over.

`gateway serve` embeds one worker (GATEWAY_ENGINE=embedded); `gateway worker` is one alone.
DBOS is one per process, so a process runs at most one worker.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import UTC, datetime, timedelta

from dbos import DBOS
from sqlalchemy import delete, insert, select, update

from training_gateway.gateway.engine import workflows
from training_gateway.gateway.jobs import (
    APP_NAME,
    DELIVERY_QUEUE,
    QUEUES,
    SYNC_QUEUE,
    Jobs,
    prepare_system_database,
    system_database_url,
)
from training_gateway.gateway.runtime import Gateway
from training_gateway.gateway.services.events import Sender
from training_gateway.gateway.storage.tables import engine_workers
from training_gateway.gateway.version import API_VERSION

_log = logging.getLogger("gateway.engine")

# Work recorded this long ago and still not handed over is handed over again.
SWEEP_AFTER_S = 60.0
# A worker whose heartbeat is this many ticks old (and at least DEAD_AFTER_MIN_S) is dead.
DEAD_AFTER_TICKS = 3
DEAD_AFTER_MIN_S = 10.0
# How often queues are polled for work.
POLL_S = 0.05


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Engine:
    """The worker of this process."""

    def __init__(self, gateway: Gateway, *, worker_id: str) -> None:
        self.gateway = gateway
        self.worker_id = worker_id
        self.jobs: Jobs = gateway.jobs
        settings = gateway.settings
        self.tick_s = settings.schedule_tick_s
        self.dead_after_s = max(DEAD_AFTER_MIN_S, DEAD_AFTER_TICKS * self.tick_s)
        self.sender = Sender(
            gateway.events,
            retry_scale=settings.webhook_retry_scale,
            timeout_s=settings.webhook_timeout_s,
            metrics=gateway.metrics,
        )
        self._task: asyncio.Task[None] | None = None
        self._scheduled: dict[tuple[str, str], int] = {}
        self._last_sweep = 0.0
        # When this worker's loop last ran its tick, and from when it may judge others dead.
        self._last_tick: float | None = None
        self._judge_from = 0.0

    async def start(self) -> None:
        settings = self.gateway.settings
        pages_per_s = settings.backfill_pages_per_s
        workflows.install(
            workflows.EngineContext(
                sync=self.gateway.sync,
                sender=self.sender,
                backfill_pause_s=1.0 / pages_per_s if pages_per_s > 0 else 0.0,
            )
        )
        prepare_system_database(system_database_url(settings))
        DBOS(
            config={
                "name": APP_NAME,
                "system_database_url": system_database_url(settings),
                "executor_id": self.worker_id,
                # Every process of one release recovers and serves the others' jobs.
                "application_version": f"{APP_NAME}-{API_VERSION}",
                "log_level": "WARNING",
            }
        )
        DBOS.launch()
        for name, concurrency in QUEUES.items():
            if await DBOS.retrieve_queue_async(name) is None:
                await DBOS.register_queue_async(
                    name, worker_concurrency=concurrency, polling_interval_sec=POLL_S
                )
        await self._heartbeat()
        self._task = asyncio.get_running_loop().create_task(self._run())
        _log.info("engine worker %s started", self.worker_id)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.jobs.flush()
        # Jobs still running stay pending: this worker resumes them when it starts again
        # under its id, or a living worker recovers them once this one's heartbeat is old.
        DBOS.destroy(destroy_registry=False)  # it shuts down the loop's default executor
        workflows.install(None)
        await self.sender.aclose()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await self.tick()
                if loop.time() - self._last_sweep >= min(SWEEP_AFTER_S / 2, 30.0):
                    self._last_sweep = loop.time()
                    await self.sweep()
            except Exception:  # the tick is retried at the next one; never stop the worker
                _log.exception("the engine's tick failed")

    async def tick(self) -> None:
        await self._heartbeat()
        if self._may_judge_others():
            await self._recover_dead()
        await self.schedule()

    def _may_judge_others(self) -> bool:
        """Whether this tick may recover the jobs of workers whose heartbeat is old. Not for
        `dead_after_s` after this worker itself stalled (its loop frozen, its process stopped):
        what stopped it may have stopped the others as well, and their heartbeats are then
        as old as its own without their being dead; recovering their jobs at once would run
        a job they are running again (a job's re-run claims the deliveries it holds)."""
        now = asyncio.get_running_loop().time()
        if self._last_tick is not None and now - self._last_tick > 2 * self.tick_s + 1.0:
            self._judge_from = now + self.dead_after_s
        self._last_tick = now
        return now >= self._judge_from

    async def _heartbeat(self) -> None:
        now = datetime.now(UTC)
        async with self.gateway.store.engine.begin() as conn:
            result = await conn.execute(
                update(engine_workers)
                .where(engine_workers.c.executor_id == self.worker_id)
                .values(seen_at=now)
            )
            if not result.rowcount:
                await conn.execute(
                    insert(engine_workers).values(
                        executor_id=self.worker_id, started_at=now, seen_at=now
                    )
                )

    async def _recover_dead(self) -> None:
        """Recover the jobs of every worker whose heartbeat stopped; of the living workers
        that notice, the one that removes the dead one's row recovers its jobs."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.dead_after_s)
        async with self.gateway.store.engine.connect() as conn:
            dead = (
                (
                    await conn.execute(
                        select(engine_workers.c.executor_id).where(
                            engine_workers.c.seen_at < cutoff,
                            engine_workers.c.executor_id != self.worker_id,
                        )
                    )
                )
                .scalars()
                .all()
            )
        for executor_id in dead:
            async with self.gateway.store.engine.begin() as conn:
                claimed = await conn.execute(
                    delete(engine_workers).where(
                        engine_workers.c.executor_id == executor_id,
                        engine_workers.c.seen_at < cutoff,
                    )
                )
            if claimed.rowcount != 1:
                continue
            handles = await asyncio.to_thread(DBOS._recover_pending_workflows, [executor_id])
            _log.warning(
                "engine worker %s stopped answering; recovered %d of its jobs",
                executor_id,
                len(handles),
            )

    async def schedule(self) -> None:
        """Enqueue every reconciliation that is due (once per connection and slot)."""
        for user_id, provider, slot in await self.gateway.sync.due(datetime.now(UTC)):
            if self._scheduled.get((user_id, provider)) == slot:
                continue
            await self.jobs.enqueue(
                "reconcile",
                SYNC_QUEUE,
                f"reconcile-{user_id}-{provider}-{slot}",
                user_id,
                provider,
            )
            self._scheduled[(user_id, provider)] = slot

    async def sweep(self) -> None:
        """Hand over again what was recorded and not handed over."""
        for delivery_id, attempt in await self.gateway.events.overdue(SWEEP_AFTER_S):
            self.jobs.submit("deliver", DELIVERY_QUEUE, (delivery_id, attempt))
        for provider, dedupe_key in await self.gateway.sync.unprocessed_inbound(SWEEP_AFTER_S):
            await self.gateway.sync.enqueue_inbound(provider, dedupe_key)
        await self.jobs.flush()
