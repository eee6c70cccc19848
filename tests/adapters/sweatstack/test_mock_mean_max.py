"""The mock's per-activity mean-max over loopback: the reference curve on the activity's 1 s
grid, SweatStack's duration grids, omitted long durations, Parquet shape and errors."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from open_sport_taxonomy import Sport

from training_gateway.adapters._mock import MockServer
from training_gateway.adapters.sweatstack.mock import StoredActivity, SweatStackMock
from training_gateway.models.mean_max import (
    DEFAULT_DURATIONS_S,
    all_durations_s,
    mean_max_reference,
    on_one_hz_grid,
)

LIST = "/api/v1/activities/"
_HTTP = httpx.Client(timeout=10)


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    _HTTP.close()


def _mean_max(
    server: MockServer, token: str, activity_id: str, params: Any = None
) -> httpx.Response:
    return _HTTP.get(
        f"{server.url}{LIST}{activity_id}/mean-max",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
    )


def _table(response: httpx.Response) -> pa.Table:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    return pq.read_table(io.BytesIO(response.content))


def _first(mock: SweatStackMock, sport: str) -> StoredActivity:
    return mock.activities_of(mock.default_user, sports=[Sport(sport)])[0]


def _reference(stored: StoredActivity, metric: str, durations: list[int]) -> dict[str, list[Any]]:
    """What the curve must be: `mean_max_reference` on the activity's 1 s grid."""
    streams = stored.session.streams
    grid = on_one_hz_grid(streams["elapsed_s"], streams[metric], metric)
    best, where = mean_max_reference(grid, np.array(durations))
    return {
        "duration": [timedelta(seconds=d) for d in durations],
        metric: best.tolist(),
        "start": [stored.start + timedelta(seconds=int(index)) for index in where],
    }


def test_power_curve_on_the_default_grid_equals_the_reference(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    ride = _first(shared_mock, "cycling.road")
    table = _table(_mean_max(shared_server, shared_mock.token_for(), ride.id, {"metric": "power"}))

    lasted = [d for d in DEFAULT_DURATIONS_S if d <= ride.session.duration_s]
    assert len(lasted) < len(DEFAULT_DURATIONS_S)  # 6 h is longer than the ride: left out
    assert table.schema == pa.schema(
        [
            ("duration", pa.duration("s")),
            ("power", pa.float64()),
            ("start", pa.timestamp("ms", tz="UTC")),
        ]
    )
    assert table.schema.metadata is None or b"pandas" not in table.schema.metadata
    assert table.to_pydict() == _reference(ride, "power", lasted)
    # And by brute force, independently of the reference: the best rolling mean and its start.
    power = ride.session.streams["power"].astype(float)
    for row in table.to_pylist():
        seconds = int(row["duration"].total_seconds())
        rolling = np.convolve(power, np.ones(seconds) / seconds, mode="valid")
        assert row["power"] == pytest.approx(rolling.max(), rel=1e-12)
        offset = int((row["start"] - ride.start).total_seconds())
        assert power[offset : offset + seconds].mean() == pytest.approx(rolling.max(), rel=1e-12)


def test_speed_curve_of_a_run_with_chosen_durations_omits_the_longer_ones(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    run = _first(shared_mock, "running")
    params = {"metric": "speed", "durations": f"60,5,{run.session.duration_s + 1},1"}
    table = _table(_mean_max(shared_server, shared_mock.token_for(), run.id, params))

    assert table.column_names == ["duration", "speed", "start"]
    assert table.to_pydict() == _reference(run, "speed", [1, 5, 60])
    speeds = table.column("speed").to_pylist()
    assert speeds == sorted(speeds, reverse=True)  # a longer window never averages higher here


def test_all_is_the_fine_grid_up_to_the_activitys_length(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    ride = _first(shared_mock, "cycling")
    table = _table(
        _mean_max(
            shared_server, shared_mock.token_for(), ride.id, {"metric": "power", "durations": "all"}
        )
    )

    grid = all_durations_s(ride.session.duration_s)
    assert grid[-1] <= ride.session.duration_s < grid[-1] + 60
    assert table.to_pydict() == _reference(ride, "power", grid)


def test_a_short_activity_has_only_the_durations_it_lasted(
    fresh_server: tuple[SweatStackMock, str],
) -> None:
    mock, url = fresh_server
    template = _first(mock, "cycling.road")
    short = mock.add_activity(sport="cycling.road", start=template.start, duration_s=100)
    response = _HTTP.get(
        f"{url}{LIST}{short.id}/mean-max",
        params={"metric": "power"},
        headers={"Authorization": f"Bearer {mock.token_for()}"},
    )

    lasted = [1, 2, 5, 10, 15, 20, 30, 60]
    assert _table(response).to_pydict() == _reference(short, "power", lasted)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({}, "metric"),
        ({"metric": "heart_rate"}, "metric"),
        ({"metric": "power", "durations": "5,abc"}, "durations"),
        ({"metric": "power", "durations": "0,60"}, "durations"),
        ({"metric": "power", "durations": "5,,60"}, "durations"),
    ],
)
def test_bad_metric_or_durations_is_422_naming_the_parameter(
    shared_mock: SweatStackMock, shared_server: MockServer, params: dict[str, str], parameter: str
) -> None:
    ride = _first(shared_mock, "cycling.road")
    response = _mean_max(shared_server, shared_mock.token_for(), ride.id, params)

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["query", parameter]]


def test_a_metric_the_activity_did_not_record_is_422(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    run = _first(shared_mock, "running")
    response = _mean_max(shared_server, shared_mock.token_for(), run.id, {"metric": "power"})

    assert response.status_code == 422
    assert "has no power data" in response.json()["detail"][0]["msg"]


def test_another_users_activity_is_404(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    theirs = shared_mock.activities_of(shared_mock.other_user)[0]
    response = _mean_max(shared_server, shared_mock.token_for(), theirs.id, {"metric": "speed"})

    assert response.status_code == 404
    assert theirs.id in response.json()["detail"]


@pytest.mark.parametrize("flag", ["segmentation", "nlec"])
def test_segmentation_thins_the_curve_to_exact_points_interpolating_the_rest(
    shared_mock: SweatStackMock, shared_server: MockServer, flag: str
) -> None:
    """`segmentation=true` (`nlec` in SweatStack 0.86) keeps fewer rows for visualization:
    each one the exact curve's, and the line between them in log(duration) within 1 % of every
    row left out (docs/segmentation.md)."""
    ride = _first(shared_mock, "cycling.road")
    token = shared_mock.token_for()
    full = _table(_mean_max(shared_server, token, ride.id, {"metric": "power", "durations": "all"}))
    thinned = _table(
        _mean_max(
            shared_server, token, ride.id, {"metric": "power", "durations": "all", flag: "true"}
        )
    )
    unchanged = _table(
        _mean_max(
            shared_server, token, ride.id, {"metric": "power", "durations": "all", flag: "false"}
        )
    )

    assert unchanged.equals(full)
    assert thinned.schema == full.schema
    assert thinned.num_rows <= full.num_rows // 5
    rows = {row["duration"]: row for row in full.to_pylist()}
    kept = thinned.to_pylist()
    assert kept[0] == full.to_pylist()[0] and kept[-1] == full.to_pylist()[-1]
    assert all(rows[row["duration"]] == row for row in kept)
    log_kept = np.log([row["duration"].total_seconds() for row in kept])
    line = np.interp(
        np.log([d.total_seconds() for d in rows]), log_kept, [row["power"] for row in kept]
    )
    values = np.array([row["power"] for row in rows.values()])
    assert np.all(np.abs(line - values) <= 0.01 * values + 1e-9)
