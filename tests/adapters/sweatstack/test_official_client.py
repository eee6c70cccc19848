"""The official `sweatstack` client (0.97.0) against the mock over loopback."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import sweatstack
from open_sport_taxonomy import Sport
from sweatstack.exceptions import (
    SweatStackAuthError,
    SweatStackBadRequestError,
    SweatStackNotFoundError,
    SweatStackServerError,
)
from sweatstack.schemas import ActivityDetails, ActivitySummary

from training_gateway.adapters._mock import MockServer
from training_gateway.adapters.sweatstack.mock import StoredActivity, SweatStackMock
from training_gateway.models.mean_max import (
    DEFAULT_DURATIONS_S,
    all_durations_s,
    mean_max_reference,
    on_one_hz_grid,
)

from .conftest import TODAY


@pytest.fixture
def client(shared_mock: SweatStackMock, shared_server: MockServer) -> Iterator[sweatstack.Client]:
    with sweatstack.Client(
        api_key=shared_mock.token_for(),
        url=shared_server.url,
        ambient_credentials=False,
        max_retries=0,
    ) as client:
        yield client


def test_list_pages_through_the_mock_newest_first(
    client: sweatstack.Client, shared_mock: SweatStackMock
) -> None:
    everything = client.activities.list(limit=1000)  # the client pages by 100

    expected = [stored.id for stored in shared_mock.activities_of(shared_mock.default_user)]
    assert [activity.id for activity in everything] == expected
    assert all(isinstance(activity, ActivitySummary) for activity in everything)
    first = everything[0]
    assert first.start.utcoffset() is not None and first.start_local.tzinfo is None
    assert first.duration == first.end - first.start
    assert client.activities.list(limit=5, offset=3) == everything[3:8]


def test_list_filters_by_dates_sports_and_tags(
    client: sweatstack.Client, shared_mock: SweatStackMock
) -> None:
    start, end = TODAY - timedelta(days=40), TODAY - timedelta(days=10)
    runs = client.activities.list(start=start, end=end, sport="running", limit=500)
    assert runs
    assert all(start <= activity.start_local.date() <= end for activity in runs)
    assert all(
        Sport.parse(str(activity.sport)).is_subsport_of(Sport("running")) for activity in runs
    )

    mixed = client.activities.list(sport=["swimming", Sport("walking")], limit=500)
    assert {Sport.parse(str(a.sport)).code.split(".")[0] for a in mixed} == {"swimming", "walking"}

    tagged = next(s for s in shared_mock.activities_of(shared_mock.default_user) if len(s.tags) > 1)
    both = client.activities.list(tags=list(tagged.tags[:2]), limit=500)
    assert tagged.id in [activity.id for activity in both]
    assert all(set(tagged.tags[:2]) <= set(activity.tags or []) for activity in both)


def test_retrieve_and_latest(client: sweatstack.Client) -> None:
    newest = client.activities.list(limit=1)[0]

    details = client.activities.retrieve(newest.id)
    latest = client.activities.latest()
    latest_ride = client.activities.latest(sport="cycling")

    assert isinstance(details, ActivityDetails)
    assert details.id == newest.id and details.distance and details.devices
    assert details.laps and details.laps[0].start == details.start
    assert latest is not None and latest.id == newest.id
    assert latest_ride is not None and str(latest_ride.sport).startswith("cycling")
    assert client.activities.latest(sport="rowing") is None


def test_data_as_arrow_with_chosen_metrics_and_segmentation(client: sweatstack.Client) -> None:
    ride = client.activities.latest(sport="cycling")
    assert ride is not None

    table = client.activities.data(ride.id, metrics=["power", "heart_rate"], output="arrow")
    segmented = client.activities.data(ride.id, segmentation_on="power", output="arrow")

    assert table.column_names == ["timestamp", "timestamp_local", "power", "heart_rate"]
    assert table.num_rows == int(ride.duration.total_seconds())
    assert table.schema.field("timestamp").type.tz == "UTC"
    assert table.schema.field("power").type == pa.int16()
    assert segmented.column_names == [
        "timestamp",
        "timestamp_local",
        "duration",
        "power",
        "speed",
        "heart_rate",
    ]
    assert 20 <= table.num_rows / segmented.num_rows <= 50


def test_data_as_bytes_is_parquet(client: sweatstack.Client) -> None:
    ride = client.activities.latest()
    assert ride is not None
    assert client.activities.data(ride.id, output="bytes")[:4] == b"PAR1"


@pytest.mark.skipif(importlib.util.find_spec("pandas") is None, reason="pandas is not installed")
def test_data_as_pandas(client: sweatstack.Client) -> None:
    ride = client.activities.latest(sport="cycling")
    assert ride is not None
    frame = client.activities.data(ride.id, metrics=["power"], output="pandas")
    assert list(frame.columns) == ["timestamp", "timestamp_local", "power"]


def test_errors_map_to_the_clients_exceptions(
    client: sweatstack.Client, shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    with pytest.raises(SweatStackNotFoundError) as missing:
        client.activities.retrieve("act_00000000000000000000000000")
    assert missing.value.request_id

    with pytest.raises(SweatStackBadRequestError):
        client.activities.list(start=date(2026, 1, 1), limit=5, offset=-1)

    other = sweatstack.Client(
        api_key=shared_mock.tokens.issue(shared_mock.default_user, ttl_s=3600) + "tampered",
        url=shared_server.url,
        ambient_credentials=False,
        max_retries=0,
        skip_token_expiry_check=True,
    )
    with pytest.raises(SweatStackAuthError):
        other.activities.list(limit=1)


def test_server_faults_surface_after_the_clients_retries(
    fresh_server: tuple[SweatStackMock, str],
) -> None:
    mock, url = fresh_server
    client = sweatstack.Client(
        api_key=mock.token_for(), url=url, ambient_credentials=False, max_retries=1
    )
    mock.faults.fail_next(502, times=2)
    with pytest.raises(SweatStackServerError):
        client.activities.latest()
    assert client.activities.latest() is not None


def test_environment_configures_the_client(
    monkeypatch: pytest.MonkeyPatch, shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    monkeypatch.setenv("SWEATSTACK_URL", shared_server.url)
    monkeypatch.setenv("SWEATSTACK_API_KEY", shared_mock.token_for(shared_mock.other_user))
    monkeypatch.delenv("SWEATSTACK_REFRESH_TOKEN", raising=False)

    client = sweatstack.Client(max_retries=0)
    theirs = client.activities.list(limit=1000)

    assert theirs
    owned = {s.id for s in shared_mock.activities.values() if s.user_id == shared_mock.other_user}
    assert {activity.id for activity in theirs} == owned


def _reference_curve(
    stored: StoredActivity, metric: str, durations: list[int]
) -> dict[str, list[Any]]:
    """The curve the mock must serve: `mean_max_reference` on the activity's 1 s grid."""
    streams = stored.session.streams
    grid = on_one_hz_grid(streams["elapsed_s"], streams[metric], metric)
    best, where = mean_max_reference(grid, np.array(durations))
    return {
        "duration": [timedelta(seconds=d) for d in durations],
        metric: best.tolist(),
        "start": [stored.start + timedelta(seconds=int(index)) for index in where],
    }


def test_mean_max_as_arrow_equals_the_reference_curve(
    client: sweatstack.Client, shared_mock: SweatStackMock
) -> None:
    ride = shared_mock.activities_of(shared_mock.default_user, sports=[Sport("cycling")])[0]
    run = shared_mock.activities_of(shared_mock.default_user, sports=[Sport("running")])[0]

    chosen = client.activities.mean_max(
        ride.id, metric="power", durations=[5, 60, 300, 100_000], output="arrow"
    )
    default = client.activities.mean_max(ride.id, metric="power", output="arrow")
    every = client.activities.mean_max(run.id, metric="speed", durations="all", output="arrow")

    assert chosen.to_pydict() == _reference_curve(ride, "power", [5, 60, 300])
    lasted = [d for d in DEFAULT_DURATIONS_S if d <= ride.session.duration_s]
    assert default.to_pydict() == _reference_curve(ride, "power", lasted)
    assert every.to_pydict() == _reference_curve(
        run, "speed", all_durations_s(run.session.duration_s)
    )


@pytest.mark.skipif(importlib.util.find_spec("pandas") is None, reason="pandas is not installed")
def test_mean_max_as_pandas_has_one_row_per_duration(
    client: sweatstack.Client, shared_mock: SweatStackMock
) -> None:
    ride = shared_mock.activities_of(shared_mock.default_user, sports=[Sport("cycling")])[0]

    frame = client.activities.mean_max(ride.id, metric="power", durations=[1, 20, 1200])

    assert list(frame.columns) == ["duration", "power", "start"]
    assert [value.total_seconds() for value in frame["duration"]] == [1, 20, 1200]
    assert str(frame["start"].dt.tz) == "UTC"
    assert frame["power"].is_monotonic_decreasing


def test_data_values_are_the_recorded_samples(
    client: sweatstack.Client, shared_mock: SweatStackMock
) -> None:
    ride = shared_mock.activities_of(shared_mock.default_user, sports=[Sport("cycling")])[0]
    streams = ride.session.streams

    table = client.activities.data(
        ride.id, metrics=["duration", "power", "heart_rate", "latitude"], output="arrow"
    )

    assert table.column("power").to_pylist() == streams["power"].tolist()
    assert table.column("heart_rate").to_pylist() == streams["heart_rate"].tolist()
    assert table.column("latitude").to_pylist() == streams["latitude"].tolist()
    assert [d.total_seconds() for d in table.column("duration").to_pylist()] == list(
        range(ride.session.duration_s)
    )
