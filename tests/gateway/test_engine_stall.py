"""A worker that was itself stalled does not take its peers for dead at once: they may have
been stopped with it (the engine-crash tests pause workers with SIGSTOP)."""

from __future__ import annotations

import asyncio

from training_gateway.gateway.engine.worker import Engine


def _engine(tick_s: float = 1.0, dead_after_s: float = 10.0) -> Engine:
    engine = object.__new__(Engine)  # only the tick's bookkeeping is exercised
    engine.tick_s = tick_s
    engine.dead_after_s = dead_after_s
    engine._last_tick = None
    engine._judge_from = 0.0
    return engine


async def test_a_worker_ticking_on_time_judges_its_peers() -> None:
    engine = _engine()
    now = asyncio.get_running_loop().time()
    engine._last_tick = now - 1.2  # one tick ago

    assert engine._may_judge_others()


async def test_after_its_own_stall_a_worker_waits_a_dead_interval_before_judging() -> None:
    engine = _engine(dead_after_s=10.0)
    now = asyncio.get_running_loop().time()
    engine._last_tick = now - 30.0  # its loop did not run for 30 s

    assert not engine._may_judge_others()
    assert engine._judge_from >= now + 10.0
    # Ticking on time again, it still waits until the interval is over.
    engine._last_tick = asyncio.get_running_loop().time() - 1.0
    assert not engine._may_judge_others()
    engine._judge_from = asyncio.get_running_loop().time()  # the interval has passed
    engine._last_tick = asyncio.get_running_loop().time() - 1.0
    assert engine._may_judge_others()
