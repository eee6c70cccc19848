"""The mocks' clock: frozen and advanced by hand, or sped up, in process and from another process
over the loopback-only `/_mock/clock`."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from training_gateway.adapters._mock.clock import MockClock
from training_gateway.adapters.pytest_plugin import StartMock

START = datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_a_frozen_clock_moves_only_when_advanced() -> None:
    clock = MockClock(START, speed=0)
    time.sleep(0.01)
    assert clock.now() == START
    clock.advance(90.5)
    assert clock.now() == START + timedelta(seconds=90.5)
    assert clock.real_seconds_until(START.timestamp() + 100) is None  # only advance gets there
    assert clock.real_seconds_until(START.timestamp()) == 0.0


def test_a_sped_up_clock_runs_that_many_times_faster() -> None:
    clock = MockClock(START, speed=1000)
    before = clock.time()
    time.sleep(0.02)
    assert clock.time() - before >= 20
    ahead = clock.time() + 3600
    waits = clock.real_seconds_until(ahead)
    assert waits is not None and 0 < waits <= 3.6


def test_by_default_it_is_the_wall_clock() -> None:
    before = datetime.now(UTC)
    now = MockClock().now()
    assert before <= now <= datetime.now(UTC)


def test_listeners_hear_of_every_jump_and_change_of_speed() -> None:
    clock = MockClock(START, speed=0)
    heard = threading.Event()
    calls: list[float] = []
    clock.on_change(lambda: (calls.append(clock.time()), heard.set()))
    clock.advance(5)
    clock.speed = 2
    assert heard.is_set() and calls[0] == START.timestamp() + 5 and len(calls) == 2


@pytest.mark.parametrize(
    "change",
    [lambda c: c.advance(-1), lambda c: setattr(c, "speed", -1)],
    ids=["backwards", "negative speed"],
)
def test_a_clock_never_runs_backwards(change: object) -> None:
    clock = MockClock(START)
    with pytest.raises(ValueError, match="backwards"):
        change(clock)  # type: ignore[operator]


def test_naive_starts_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        MockClock(datetime(2026, 1, 1))


@pytest.mark.parametrize("name", ["sweatstack", "astral"])
def test_the_clock_is_driven_over_the_control_route(provider_mock: StartMock, name: str) -> None:
    running = provider_mock(name)
    control = running.url + "/_mock/clock"

    frozen = httpx.post(control, json={"speed": 0}).json()
    jumped = httpx.post(control, json={"advance_s": 7200}).json()

    assert frozen["speed"] == 0 and jumped["speed"] == 0
    assert datetime.fromisoformat(jumped["now"]) - datetime.fromisoformat(frozen["now"]) == (
        timedelta(hours=2)
    )
    assert running.mock.clock.now() == datetime.fromisoformat(jumped["now"])  # type: ignore[attr-defined]
    assert httpx.get(control).json() == jumped
    assert httpx.post(control, json={"advance_s": -5}).status_code == 422
    assert httpx.post(control, content=b"not json").status_code == 422
    assert httpx.get(running.url + "/_mock/nothing-here").status_code == 404
