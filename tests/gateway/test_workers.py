"""CPU-bound work runs in worker processes: off the event loop, errors intact, and a dead
worker costs one request a 503, not the gateway."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from training_gateway.gateway.errors import Overloaded
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


async def test_a_dead_worker_is_a_503_and_the_pool_is_made_again(pool: CpuPool) -> None:
    first = await pool.run(_pid)
    with pytest.raises(Overloaded) as raised:
        await pool.run(_die)
    assert raised.value.retry_after_s == 1
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
