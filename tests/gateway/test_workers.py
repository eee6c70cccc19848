"""CPU-bound work runs in worker processes: off the event loop, below the gateway's priority,
errors intact; a worker that dies is replaced and the work tried once more, and a second death
costs one request a 503 naming the gateway, never a 500 (issue #11)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import serve_gateway
from tests.gateway.routes.test_activities import assert_problem, walk
from training_gateway.gateway import workers
from training_gateway.gateway.errors import Overloaded
from training_gateway.gateway.services import analytics
from training_gateway.gateway.workers import CpuPool
from training_gateway.models.errors import InvalidInput


def _pid() -> int:
    return os.getpid()


def _refuse(field: str) -> None:
    raise InvalidInput(field, f"{field} is wrong")


def _die() -> None:
    os._exit(3)


@pytest.fixture
def pool() -> Iterator[CpuPool]:
    made = CpuPool(1)
    yield made
    made.close()


async def test_work_runs_in_another_process(pool: CpuPool) -> None:
    assert await pool.run(_pid) != os.getpid()


async def test_an_error_in_a_worker_reaches_the_caller_intact(pool: CpuPool) -> None:
    with pytest.raises(InvalidInput) as raised:
        await pool.run(_refuse, "metric")
    assert (raised.value.field, raised.value.detail) == ("metric", "metric is wrong")


def _pid_after(started: str, seconds: float) -> int:
    Path(started).write_text(str(os.getpid()))
    time.sleep(seconds)
    return os.getpid()


def _wait_for_file(path: Path, timeout_s: float = 30) -> None:
    """Until another process has written `path` (a task's sign that it started)."""
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} was never written"
        time.sleep(0.01)


async def test_a_worker_killed_mid_task_is_replaced_and_the_task_run_again(
    pool: CpuPool, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    running = asyncio.ensure_future(pool.run(_pid_after, str(started), 1.0))
    await asyncio.to_thread(_wait_for_file, started)
    killed = int(started.read_text())
    os.kill(killed, signal.SIGKILL)
    assert await running not in (killed, os.getpid())


async def test_a_worker_dying_twice_is_a_503_and_the_pool_is_made_again(pool: CpuPool) -> None:
    first = await pool.run(_pid)
    with pytest.raises(Overloaded) as raised:
        await pool.run(_die)
    assert raised.value.retry_after_s == 1
    assert "the gateway's worker process" in raised.value.detail
    assert await pool.run(_pid) not in (first, os.getpid())


def test_workers_exit_when_the_gateway_is_killed() -> None:
    script = (
        "import os, sys\n"
        "from training_gateway.gateway.workers import CpuPool\n"
        "pool = CpuPool(2)\n"
        "pool.warm()\n"
        "print(' '.join(str(p) for p in pool._pool()._processes), flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    children = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(children) == 2 and all(_alive(pid) for pid in children)
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in children)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


def _priority() -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)


async def test_workers_run_below_the_gateways_priority(pool: CpuPool) -> None:
    assert await pool.run(_priority) == os.getpriority(os.PRIO_PROCESS, 0) + 10


def _pending_work(pool: CpuPool) -> int:
    executor = pool._executor
    return 0 if executor is None else len(executor._pending_work_items)  # type: ignore[attr-defined]


def test_a_longitudinal_query_survives_a_worker_killed_under_it(api: httpx.Client) -> None:
    since = (datetime.now(UTC) - timedelta(days=60)).date().isoformat()
    params = {"sport": "cycling", "metric": "power", "start": since, "durations": "5,60,300"}
    answer: dict[str, httpx.Response] = {}
    query = threading.Thread(
        target=lambda: answer.update(
            first=api.get("/v1/activities/longitudinal-mean-max", params=params)
        )
    )
    query.start()
    deadline = time.monotonic() + 60
    while _pending_work(workers.pool()) == 0 and time.monotonic() < deadline:
        time.sleep(0.002)
    executor = workers.pool()._executor
    assert executor is not None and executor._pending_work_items  # type: ignore[attr-defined]
    victim = next(iter(executor._processes))  # type: ignore[attr-defined]
    os.kill(victim, signal.SIGKILL)
    query.join(120)
    first = answer["first"]
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["errors"] == [] and body["computed"] == body["activities"] > 0
    assert victim not in (workers.pool()._executor._processes)  # type: ignore[union-attr]


def _die_computing(*args: Any) -> None:
    os._exit(3)


def test_a_worker_that_dies_on_every_try_is_a_503_naming_the_gateway(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    ride = next(
        a
        for a in walk(api, provider="astral", sport="cycling", status="completed", limit=50)
        if a["distance_m"]
    )
    monkeypatch.setattr(analytics, "curve_of_table", _die_computing)
    answer = api.get(f"/v1/activities/{ride['id']}/mean-max", params={"metric": "power"})
    assert_problem(answer, 503)
    assert "the gateway's worker process" in answer.json()["detail"]
    assert answer.headers["retry-after"] == "1"


def test_the_worker_processes_stop_with_the_gateway(tmp_path: Path) -> None:
    gateway, server = serve_gateway(tmp_path)
    try:
        with gateway.client() as api:
            assert api.get("/health").status_code == 200
        workers.warm()
        executor = workers.pool()._executor
        assert executor is not None
        started = list(executor._processes)  # type: ignore[attr-defined]
        assert started and all(_alive(pid) for pid in started)
    finally:
        server.stop()
        gateway.demo.stop()
    assert workers.pool()._executor is None
    assert not any(_alive(pid) for pid in started)
