"""CPU-bound work off the event loop: FIT decoding, mean-max curves and their envelopes, and
HR-model fits run in a small pool of worker processes, so one heavy request cannot slow every
other request (`/health` included) the way a thread holding the GIL would.

The pool is made on first use (and warmed as the app starts), sized by GATEWAY_CPU_WORKERS
(default: the machine's cores, at most 4), and stopped with the app; its processes run at
nice 10. A worker that dies under a task (killed, out of memory) breaks the pool: it is made
again and the task tried once more; a second death is `Overloaded`, a 503 naming the gateway. Workers are not recycled after a number of tasks:
with Python 3.11's `max_tasks_per_child` a longitudinal query of ~150 curves stalled for
good, the pool left with no worker after replacing one. Functions sent here must be
importable (module-level) and their arguments and answers picklable.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

from training_gateway.gateway.errors import Overloaded

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class CpuPool:
    """A process pool made on first use and remade after a worker dies."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # spawn: the gateway process has threads (database drivers, the engine), and
                # forking a process with threads can copy a held lock into the child.
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(os.getpid(),),
                )
            return self._executor

    def warm(self) -> None:
        """Start every worker process now (each imports numpy and pyarrow, about a second),
        so that the first heavy request does not pay for it."""
        pool = self._pool()
        for future in [pool.submit(os.getpid) for _ in range(self.workers)]:
            future.result()

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` in a worker process; its exceptions are raised here. A worker
        that dies under it (killed, out of memory) costs a fresh pool and one more attempt;
        a second death is Overloaded (a 503 naming the gateway), never a 500."""
        call = functools.partial(fn, *args, **kwargs)
        loop = asyncio.get_running_loop()
        for attempt in range(2):
            pool = self._pool()
            try:
                return await loop.run_in_executor(pool, call)
            except BrokenProcessPool:
                log.error(
                    "a CPU worker process died running %s (attempt %d); the pool is made again",
                    getattr(fn, "__qualname__", type(fn).__name__),
                    attempt + 1,
                )
                self._discard(pool)
        raise Overloaded(
            "the gateway's worker process computing this answer stopped unexpectedly, twice; "
            "try again",
            retry_after_s=1,
        )

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        """Forget a broken pool (once, however many calls saw it break)."""
        with self._lock:
            if self._executor is pool:
                self._executor = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def _start_worker(parent: int) -> None:
    """In a worker: run below the gateway's priority, so that on a busy machine the event
    loop answering requests gets the CPU first; and exit once the gateway that started it
    is gone, even killed with SIGKILL (a worker waiting for tasks would otherwise wait
    forever)."""
    os.nice(10)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


_pool = CpuPool(int(os.environ.get("GATEWAY_CPU_WORKERS", "0") or 0) or None)


async def run(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run CPU-bound `fn` in the gateway's worker processes (see the module's docstring)."""
    return await _pool.run(fn, *args, **kwargs)


def close() -> None:
    """Stop the worker processes (the gateway's shutdown); the next `run` starts them again."""
    _pool.close()


def warm() -> None:
    """Start the worker processes ahead of the first request (see CpuPool.warm)."""
    _pool.warm()


def pool() -> CpuPool:
    return _pool
