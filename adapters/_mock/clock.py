"""A mock's own clock: what "now" is for the work a mock schedules (webhook deliveries and
their retries, the times of outside changes), so tests and benchmarks can drive it.

By default it is the wall clock. `freeze()` stops it, so only `advance(seconds)` moves it (a
test checking a 24-hour retry schedule without sleeping); `speed = 3600` makes an hour pass
in a second (a benchmark). Whoever waits for a moment of this clock (`real_seconds_until`)
is told again when it jumps (`on_change`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime


class MockClock:
    """Time as the mock sees it: `now()` runs at `speed` times the wall clock from wherever
    it was last set; speed 0 is frozen. Safe to read and change from any thread."""

    def __init__(self, start: datetime | None = None, *, speed: float = 1.0) -> None:
        """`start` (aware) is the clock's time now; the wall clock's time when None."""
        if start is not None and start.tzinfo is None:
            raise ValueError("a mock clock starts at an aware datetime")
        if speed < 0:
            raise ValueError("a mock clock does not run backwards")
        self._lock = threading.Lock()
        self._anchor = start.timestamp() if start is not None else time.time()
        self._anchor_real = time.monotonic()
        self._speed = float(speed)
        self._listeners: list[Callable[[], None]] = []

    def time(self) -> float:
        """Now, as Unix seconds."""
        with self._lock:
            return self._now_locked()

    def now(self) -> datetime:
        """Now, aware, in UTC."""
        return datetime.fromtimestamp(self.time(), UTC)

    @property
    def speed(self) -> float:
        """How many of this clock's seconds pass per wall-clock second (0: frozen)."""
        return self._speed

    @speed.setter
    def speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError("a mock clock does not run backwards")
        with self._lock:
            self._anchor, self._anchor_real = self._now_locked(), time.monotonic()
            self._speed = float(speed)
        self._changed()

    def freeze(self) -> None:
        """Stop the clock: from now on only `advance` moves it."""
        self.speed = 0.0

    def advance(self, seconds: float) -> None:
        """Move the clock `seconds` forward at once."""
        if seconds < 0:
            raise ValueError("a mock clock does not run backwards")
        with self._lock:
            self._anchor += seconds
        self._changed()

    def real_seconds_until(self, moment: float) -> float | None:
        """Wall-clock seconds until this clock reads `moment` (Unix seconds): 0 when it has
        passed, None when the clock is frozen (only `advance` will get there)."""
        with self._lock:
            ahead = moment - self._now_locked()
            if ahead <= 0:
                return 0.0
            return None if self._speed == 0 else ahead / self._speed

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` (from the thread that changed it) whenever the clock jumps or its
        speed changes, so a waiter can recompute how long to wait."""
        with self._lock:
            self._listeners.append(listener)

    def _now_locked(self) -> float:
        return self._anchor + (time.monotonic() - self._anchor_real) * self._speed

    def _changed(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()
