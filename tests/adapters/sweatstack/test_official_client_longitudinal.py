"""The official `sweatstack` client (0.97.0)'s longitudinal and AWD calls against the mock
over loopback: `activities.longitudinal.data`, `.mean_max`, `.awd` and `activities.awd`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest
import sweatstack
from open_sport_taxonomy import Sport

from training_gateway.adapters._mock import MockServer
from training_gateway.adapters.sweatstack.mock import SweatStackMock

from .conftest import TODAY

START = TODAY - timedelta(days=30)


@pytest.fixture
def client(shared_mock: SweatStackMock, shared_server: MockServer) -> Iterator[sweatstack.Client]:
    with sweatstack.Client(
        api_key=shared_mock.token_for(),
        url=shared_server.url,
        ambient_credentials=False,
        max_retries=0,
    ) as client:
        yield client


def _rides(mock: SweatStackMock) -> list[str]:
    found = mock.activities_of(mock.default_user, start=START, end=TODAY, sports=[Sport("cycling")])
    return [stored.id for stored in found]


def test_longitudinal_data_has_every_matching_activitys_samples(
    client: sweatstack.Client, shared_mock: SweatStackMock
) -> None:
    table = client.activities.longitudinal.data(
        sport="cycling", start=START, end=TODAY, metrics=["duration", "power"], output="arrow"
    )
    frame = client.activities.longitudinal.data(sport=Sport("cycling"), start=START, end=TODAY)

    assert table.column_names == [
        "timestamp", "timestamp_local", "duration", "power", "activity_id", "sport",
    ]  # fmt: skip
    assert set(table.column("activity_id").to_pylist()) == set(_rides(shared_mock))
    expected_rows = sum(
        len(shared_mock.activities[a].session.streams["elapsed_s"]) for a in _rides(shared_mock)
    )
    assert table.num_rows == expected_rows == len(frame)
    # The server's default metrics: duration, power, heart_rate, speed (those recorded).
    assert {"duration", "power", "heart_rate", "speed"} <= set(frame.columns)


def test_longitudinal_mean_max_without_after_is_value_indexed(
    client: sweatstack.Client, shared_mock: SweatStackMock
) -> None:
    frame = client.activities.longitudinal.mean_max(
        sport="cycling", metric="power", start=START, end=TODAY, output="pandas"
    )

    assert list(frame.columns) == ["power", "duration", "start", "activity_id", "sport"]
    assert np.all(np.diff(frame["power"].to_numpy()) == 1.0)  # one row per watt
    assert frame["duration"].is_monotonic_decreasing
    assert set(frame["activity_id"]) <= set(_rides(shared_mock))
    assert str(frame["start"].dt.tz) == "UTC"


def test_longitudinal_mean_max_with_after_is_one_row_per_state_and_duration(
    client: sweatstack.Client,
) -> None:
    table = client.activities.longitudinal.mean_max(
        sport="cycling",
        metric="power",
        start=START,
        end=TODAY,
        after=[0, 250],
        durations=[5, 60, 300],
        output="arrow",
    )
    single = client.activities.longitudinal.mean_max(
        sport="cycling", metric="power", start=START, end=TODAY, after=0, durations=[5, 60, 300],
        output="arrow",
    )  # fmt: skip

    assert table.column_names == ["duration", "power", "start", "activity_id", "sport", "after"]
    rows = table.to_pylist()
    assert [(r["after"], int(r["duration"].total_seconds())) for r in rows] == [
        (0.0, 5), (0.0, 60), (0.0, 300), (250.0, 5), (250.0, 60), (250.0, 300),
    ]  # fmt: skip
    assert table.slice(0, 3).equals(single)
    fresh, tired = rows[:3], rows[3:]
    assert all(t["power"] <= f["power"] for f, t in zip(fresh, tired, strict=True))


def test_longitudinal_mean_max_refusals_reach_the_client_as_bad_requests(
    client: sweatstack.Client,
) -> None:
    with pytest.raises(sweatstack.exceptions.SweatStackBadRequestError, match="at most 5"):
        client.activities.longitudinal.mean_max(
            sport="cycling", metric="power", start=START, after=[0, 1, 2, 3, 4, 5]
        )


def test_awd_per_activity_and_longitudinal(
    client: sweatstack.Client, shared_mock: SweatStackMock
) -> None:
    ride = _rides(shared_mock)[0]
    own = client.activities.awd(ride, output="arrow")  # power, as the ride is cycling
    speed = client.activities.awd(ride, metric="speed", output="arrow")
    season = client.activities.longitudinal.awd(
        sport="cycling", metric="power", start=START, end=TODAY, output="pandas"
    )

    assert own.column_names == ["power", "duration"]
    assert speed.column_names == ["speed", "duration"]
    seconds = [d.total_seconds() for d in own.column("duration").to_pylist()]
    assert seconds == sorted(seconds) and seconds[-1] > 0
    assert list(season.columns) == ["power", "max", "hard", "medium", "easy"]
    # Over the season, the highest day at each level is at least this one ride.
    at_levels = dict(zip(own.column("power").to_pylist(), seconds, strict=True))
    for _, row in season[season["power"].isin(at_levels)].iterrows():
        assert row["max"] >= at_levels[row["power"]]
