"""Enqueueing the engine's work from any process: an API replica, a worker, the CLI.

Work is enqueued by workflow name through DBOS's client, which writes to the engine's system
database and needs no engine running here; a worker anywhere dequeues it. Every job has an
id derived from what it is about (a delivery's id, a webhook's dedupe key, a connection and a
time slot), so enqueueing the same job twice, from two replicas, or again after a crash,
yields one job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from dbos import DBOSClient, EnqueueOptions, run_dbos_database_migrations

from training_gateway.gateway.settings import Settings

INBOUND_QUEUE = "inbound"
DELIVERY_QUEUE = "deliveries"
SYNC_QUEUE = "sync"
_log = logging.getLogger("gateway.engine")

APP_NAME = "training-gateway"


def system_database_url(settings: Settings) -> str:
    """DBOS's system database: on PostgreSQL the gateway's database itself (DBOS keeps its
    tables in the `dbos` schema), with the synchronous driver DBOS uses; on SQLite a file
    `engine.sqlite3` beside the gateway's own, so the two do not queue on one write lock."""
    url = settings.database_url
    if url.startswith("postgresql"):
        rest = url.partition("://")[2]
        return f"postgresql+psycopg://{rest}"
    path = Path(url.split("///", 1)[-1])
    return f"sqlite:///{path.with_name('engine.sqlite3')}"


def prepare_system_database(url: str) -> None:
    """Put an SQLite engine database in WAL mode before DBOS opens it (the mode is kept in
    the file). DBOS leaves SQLite in its rollback journal, where every commit is several
    fsyncs and a reader blocks the writer: the queue's pollers and the jobs' checkpoints
    then wait on each other, and the drain of a delivery backlog was bound by that."""
    if not url.startswith("sqlite:///"):
        return
    path = Path(url.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")


# Items submitted for batching wait this long for company, and go this many to a job.
LINGER_S = 0.02
BATCH_SIZE = 200

QUEUES: dict[str, int] = {
    # name: how many of its jobs one worker runs at once
    INBOUND_QUEUE: 16,
    DELIVERY_QUEUE: 64,
    SYNC_QUEUE: 4,
}


class Jobs:
    """The engine's queues, as seen from a process that enqueues work."""

    def __init__(self, settings: Settings) -> None:
        self.url = system_database_url(settings)
        self._client: DBOSClient | None = None
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        self._deferred: dict[str, tuple[str, str, tuple[Any, ...]]] = {}
        self._flusher: asyncio.Task[None] | None = None

    def _connect(self) -> DBOSClient:
        # Lazily: most requests enqueue nothing, and the client migrates the engine's tables.
        with self._lock:
            if self._client is None:
                prepare_system_database(self.url)
                run_dbos_database_migrations(self.url)
                self._client = DBOSClient(system_database_url=self.url)
            return self._client

    async def enqueue(
        self, workflow: str, queue: str, job_id: str, *args: Any, delay_s: float = 0.0
    ) -> None:
        """Enqueue `workflow(*args)` as job `job_id` (once: an existing job is kept)."""
        client = await asyncio.to_thread(self._connect)
        options: EnqueueOptions = {
            "workflow_name": workflow,
            "queue_name": queue,
            "workflow_id": job_id,
            "workflow_id_reuse_policy": "return-existing",
        }
        if delay_s > 0:
            options["delay_seconds"] = delay_s
        await client.enqueue_async(options, *args)

    def defer(self, workflow: str, queue: str, job_id: str, *args: Any) -> None:
        """Enqueue `workflow(*args)` as job `job_id` soon, with the jobs deferred meanwhile,
        rather than before answering: for work whose record is durable already (a provider
        webhook kept before its 202), so that enqueueing it, a write to the engine's own
        database, is not in the answer's time. One lost to a crash before it is enqueued is
        found again by the engine's sweeper."""
        self._deferred.setdefault(job_id, (workflow, queue, args))
        self._flush_later()

    def submit(self, workflow: str, queue: str, item: tuple[Any, ...]) -> None:
        """Enqueue `workflow([item, ...])` soon, batched with the items submitted meanwhile:
        one job per batch, named after its first item. For work whose records are durable
        already, so an item lost to a crash before its batch is enqueued is found again by
        the engine's sweeper."""
        self._pending.setdefault((workflow, queue), []).append(item)
        self._flush_later()

    def _flush_later(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(LINGER_S)
        await self.flush()

    async def flush(self) -> None:
        """Enqueue every deferred job and submitted item now."""
        while self._deferred:
            job_id, (workflow, queue, args) = self._deferred.popitem()
            try:
                await self.enqueue(workflow, queue, job_id, *args)
            except Exception as exc:  # the record is durable; the sweeper finds it
                _log.warning(
                    "could not enqueue job %s (%s); the sweeper will", job_id, type(exc).__name__
                )
        while self._pending:
            (workflow, queue), items = self._pending.popitem()
            for at in range(0, len(items), BATCH_SIZE):
                batch = items[at : at + BATCH_SIZE]
                job_id = "-".join([workflow, *(str(part) for part in batch[0])])
                try:
                    await self.enqueue(workflow, queue, job_id, batch)
                except Exception as exc:  # the records are durable; the sweeper finds them
                    _log.warning(
                        "could not enqueue %d %s job item(s) (%s); the sweeper will",
                        len(batch),
                        workflow,
                        type(exc).__name__,
                    )

    async def aclose(self) -> None:
        """Enqueue what is pending, then let the client go."""
        if self._flusher is not None and not self._flusher.done():
            await self._flusher
        await self.flush()
        self.close()  # not in a thread: DBOS shuts the loop's default executor down with it

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.destroy()
                self._client = None
