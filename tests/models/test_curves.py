"""Curve orientations: SweatStack's rules for `by`, and the value-indexed (by intensity) form of
a duration envelope, checked against the straightforward inverse of the curve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training_gateway.models.curves import (
    INTENSITY_STEP,
    EnvelopePoint,
    by_intensity,
    resolve_orientation,
)
from training_gateway.models.errors import InvalidParameter

T0 = datetime(2026, 5, 1, 8, tzinfo=UTC)


def test_intensity_is_the_default_without_after_and_duration_needs_after() -> None:
    assert resolve_orientation(None, "power", with_after=False) == "intensity"
    assert resolve_orientation("intensity", "heart_rate", with_after=False) == "intensity"
    with pytest.raises(InvalidParameter, match="requires after") as refused:
        resolve_orientation("duration", "power", with_after=False)
    assert refused.value.field == "by"


def test_with_after_duration_is_the_default_for_power_and_intensity_still_accepted() -> None:
    assert resolve_orientation(None, "power", with_after=True) == "duration"
    assert resolve_orientation("duration", "power", with_after=True) == "duration"
    assert resolve_orientation("intensity", "power", with_after=True) == "intensity"


def test_with_after_intensity_is_the_only_orientation_for_speed() -> None:
    assert resolve_orientation(None, "speed", with_after=True) == "intensity"
    assert resolve_orientation("intensity", "speed", with_after=True) == "intensity"
    with pytest.raises(InvalidParameter, match="only orientation"):
        resolve_orientation("duration", "speed", with_after=True)
    with pytest.raises(InvalidParameter, match="'duration' or 'intensity'"):
        resolve_orientation("value", "speed", with_after=True)


def _point(duration_s: int, value: float, who: str, after: float | None = None) -> EnvelopePoint:
    return EnvelopePoint(
        duration_s=duration_s,
        value=value,
        activity_id=who,
        provider=who.split(":")[0],
        sport="cycling",
        start=T0 + timedelta(seconds=duration_s),
        after=after,
    )


def test_each_level_gets_the_longest_duration_that_holds_it() -> None:
    envelope = [
        _point(5, 402.7, "a:1"),
        _point(60, 310.0, "b:2"),
        _point(300, 308.4, "a:1"),
        _point(1200, 251.9, "b:3"),
    ]

    rows = by_intensity(envelope, "power")

    assert [r.value for r in rows] == [float(v) for v in range(251, 403)]
    owner = {r.value: (r.duration_s, r.activity_id) for r in rows}
    assert owner[251.0] == (1200, "b:3")
    assert owner[252.0] == owner[308.0] == (300, "a:1")
    assert owner[309.0] == owner[310.0] == (60, "b:2")  # 310.0 exactly reaches level 310
    assert owner[311.0] == owner[402.0] == (5, "a:1")
    assert all(r.start == T0 + timedelta(seconds=r.duration_s) for r in rows)


def test_fatigue_states_are_oriented_separately_whole_activity_first() -> None:
    envelope = [
        _point(60, 3.05, "a:1", after=1000.0),
        _point(60, 3.5, "a:1", after=0.0),
        _point(600, 3.0, "a:1", after=0.0),
    ]

    rows = by_intensity(envelope, "speed")

    assert [r.after for r in rows] == [0.0] * 51 + [1000.0]
    assert rows[0].value == 3.0 and rows[50].value == 3.5 and rows[51].value == 3.05
    assert rows[1].value == 3.01 and rows[1].duration_s == 60


@settings(deadline=None)
@given(
    st.dictionaries(
        st.integers(min_value=1, max_value=20_000),
        st.floats(min_value=0, max_value=400, allow_nan=False),  # in steps of the metric
        min_size=1,
        max_size=25,
    ),
    st.sampled_from(["power", "speed", "heart_rate"]),
)
def test_by_intensity_is_the_inverse_of_the_duration_curve(
    curve: dict[int, float], metric: str
) -> None:
    step = INTENSITY_STEP[metric]
    curve = {d: steps * step for d, steps in curve.items()}
    envelope = [_point(d, v, f"p:{d}") for d, v in sorted(curve.items())]

    rows = by_intensity(envelope, metric)

    def reached(value: float) -> int:
        return int(value / step + 1e-9)

    levels = [reached(v) for v in curve.values()]
    lowest, highest = max(1, min(levels)), max(levels)
    assert [round(r.value / step) for r in rows] == list(range(lowest, highest + 1))
    for row in rows:
        level = round(row.value / step)
        longest = max(d for d, v in curve.items() if reached(v) >= level)
        assert row.duration_s == longest and row.activity_id == f"p:{longest}"
