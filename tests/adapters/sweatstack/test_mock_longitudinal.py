"""The mock's longitudinal analyses over loopback, rule by documented rule: `sport` required
and repeatable (and legacy `sports`), SweatStack's rules for `by`, `after` (at most 5, kJ or
metres, a year at most), `durations`, the aliases without `/activities/`, and AWD per activity
and across activities; every curve checked against the reference computed here from the
samples the mock serves."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator, Sequence
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
    mean_max_reference,
    on_one_hz_grid,
)

from .conftest import TODAY

API = "/api/v1/activities/"
MEAN_MAX = "/api/v1/activities/longitudinal-mean-max"
START, END = (TODAY - timedelta(days=45)).isoformat(), TODAY.isoformat()
_HTTP = httpx.Client(timeout=30)


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    _HTTP.close()


def _get(server: MockServer, mock: SweatStackMock, path: str, params: Any) -> httpx.Response:
    return _HTTP.get(
        f"{server.url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {mock.token_for()}"},
    )


def _table(response: httpx.Response) -> pa.Table:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    return pq.read_table(io.BytesIO(response.content))


def _refused(response: httpx.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    details = response.json()["detail"]
    assert [item["loc"] for item in details] == [["query", field]], details
    return str(details[0]["msg"])


def _matching(mock: SweatStackMock, sports: Sequence[str]) -> list[StoredActivity]:
    return mock.activities_of(
        mock.default_user,
        start=TODAY - timedelta(days=45),
        end=TODAY,
        sports=[Sport(s) for s in sports],
    )


def _served_grid(stored: StoredActivity, metric: str) -> np.ndarray:
    """The 1 s grid of `metric` as `/data` serves it: whole watts, float32 speeds."""
    streams = stored.session.streams
    values = np.asarray(streams[metric], dtype=np.float64)
    wire = np.rint(values) if metric == "power" else values.astype(np.float32).astype(np.float64)
    return on_one_hz_grid(streams["elapsed_s"], wire, metric)


def _best(
    activities: Sequence[StoredActivity], metric: str, durations: Sequence[int]
) -> dict[int, float]:
    """The reference envelope: the best mean of any activity at each duration."""
    best: dict[int, float] = {}
    for stored in activities:
        if metric not in stored.recorded_metrics:
            continue
        grid = _served_grid(stored, metric)
        wanted = np.array([d for d in durations if d <= grid.size], dtype=np.int64)
        means, _ = mean_max_reference(grid, wanted)
        for d, value in zip(wanted, means, strict=True):
            best[int(d)] = max(best.get(int(d), -np.inf), float(value))
    return best


def _seconds(column: pa.ChunkedArray) -> list[int]:
    return [int(d.total_seconds()) for d in column.to_pylist()]


def test_sport_is_required_and_repeatable_and_the_legacy_sports_form_works(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    for path in (MEAN_MAX, f"{API}longitudinal-data"):
        msg = _refused(
            _get(shared_server, shared_mock, path, {"metric": "power", "start": START}), "sport"
        )
        assert msg == "Field required"
    params = {"metric": "power", "start": START, "end": END}
    repeated = _table(
        _get(shared_server, shared_mock, MEAN_MAX, {**params, "sport": ["cycling", "running"]})
    )
    legacy = _table(
        _get(shared_server, shared_mock, MEAN_MAX, {**params, "sports": "cycling,running"})
    )
    assert repeated.equals(legacy)
    best = _best(_matching(shared_mock, ["cycling", "running"]), "power", DEFAULT_DURATIONS_S)
    levels = [int(v) for v in repeated.column("power").to_pylist()]
    assert levels == list(range(max(1, int(min(best.values()))), int(max(best.values())) + 1))
    data = _table(
        _get(
            shared_server,
            shared_mock,
            f"{API}longitudinal-data",
            {"sports": "cycling,running", "start": START, "end": END, "metrics": "power"},
        )
    )
    expected = {s.id for s in _matching(shared_mock, ["cycling", "running"])}
    assert set(data.column("activity_id").to_pylist()) == expected


def test_without_after_the_curve_is_by_intensity_one_row_per_level(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    params = {"sport": "cycling", "metric": "power", "start": START, "end": END}
    table = _table(_get(shared_server, shared_mock, MEAN_MAX, params))
    explicit = _table(_get(shared_server, shared_mock, MEAN_MAX, {**params, "by": "intensity"}))

    assert table.equals(explicit)
    assert table.column_names == ["power", "duration", "start", "activity_id", "sport"]
    best = _best(_matching(shared_mock, ["cycling"]), "power", DEFAULT_DURATIONS_S)
    levels = [int(v) for v in table.column("power").to_pylist()]
    assert levels == list(range(max(1, int(min(best.values()))), int(max(best.values())) + 1))
    # Each level: the longest duration of the grid whose best mean reaches it.
    for level, duration in zip(levels, _seconds(table.column("duration")), strict=True):
        assert duration == max(d for d, v in best.items() if v >= level)


def test_by_duration_without_after_is_refused_as_documented(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    response = _get(
        shared_server,
        shared_mock,
        MEAN_MAX,
        {"sport": "cycling", "metric": "power", "by": "duration"},
    )
    assert _refused(response, "by") == "Value error, by=duration currently requires after"
    unknown = _get(
        shared_server, shared_mock, MEAN_MAX, {"sport": "cycling", "metric": "power", "by": "value"}
    )
    assert "'duration' or 'intensity'" in _refused(unknown, "by")


def test_with_after_power_defaults_to_duration_and_still_accepts_intensity(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    params = {
        "sport": "cycling",
        "metric": "power",
        "start": START,
        "end": END,
        "after": ["0", "200"],
    }
    default = _table(_get(shared_server, shared_mock, MEAN_MAX, params))
    by_duration = _table(_get(shared_server, shared_mock, MEAN_MAX, {**params, "by": "duration"}))
    legacy = _table(_get(shared_server, shared_mock, MEAN_MAX, {**params, "by": "intensity"}))

    assert default.equals(by_duration)
    assert default.column_names == ["duration", "power", "start", "activity_id", "sport", "after"]
    assert legacy.column_names == ["power", "duration", "start", "activity_id", "sport", "after"]
    assert set(legacy.column("after").to_pylist()) == {0.0, 200.0}
    # after=0 is the whole of every activity: the plain envelope.
    best = _best(_matching(shared_mock, ["cycling"]), "power", DEFAULT_DURATIONS_S)
    whole = default.filter(pa.compute.equal(default.column("after"), 0.0))
    assert dict(
        zip(_seconds(whole.column("duration")), whole.column("power").to_pylist(), strict=True)
    ) == pytest.approx(best)


def _work_before(mock: SweatStackMock, row: dict[str, Any], metric: str) -> float:
    """The work (J or m) done in the row's activity before its best effort began."""
    stored = mock.activities[row["activity_id"]]
    offset = int((row["start"] - stored.start).total_seconds())
    return float(_served_grid(stored, metric)[:offset].sum())


def test_after_is_in_kilojoules_for_power_and_metres_for_speed(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    for sport, metric, after, per_unit in (
        ("cycling", "power", 300.0, 1000.0),
        ("running", "speed", 3000.0, 1.0),
    ):
        params = {"sport": sport, "metric": metric, "start": START, "end": END, "after": str(after)}
        fatigued = _table(_get(shared_server, shared_mock, MEAN_MAX, params))
        whole = _table(_get(shared_server, shared_mock, MEAN_MAX, {**params, "after": "0"}))

        assert fatigued.num_rows > 0
        assert all(
            _work_before(shared_mock, row, metric) / per_unit >= after
            for row in fatigued.to_pylist()
        )
        # ... where the whole activities' best efforts mostly began before it.
        assert any(
            _work_before(shared_mock, row, metric) / per_unit < after for row in whole.to_pylist()
        )


def test_for_speed_with_after_intensity_is_the_only_orientation(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    params = {"sport": "running", "metric": "speed", "start": START, "end": END, "after": "0"}
    table = _table(_get(shared_server, shared_mock, MEAN_MAX, params))
    assert table.column_names[:2] == ["speed", "duration"]
    levels = np.array(table.column("speed").to_pylist())
    assert np.allclose(np.diff(levels), 0.01)
    refused = _get(shared_server, shared_mock, MEAN_MAX, {**params, "by": "duration"})
    assert "only orientation" in _refused(refused, "by")


def test_after_takes_at_most_five_non_negative_numbers_and_a_year_at_most(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    params = {"sport": "cycling", "metric": "power"}
    six = _get(
        shared_server, shared_mock, MEAN_MAX, {**params, "after": [str(i) for i in range(6)]}
    )
    assert "at most 5" in _refused(six, "after")
    assert _refused(_get(shared_server, shared_mock, MEAN_MAX, {**params, "after": "-1"}), "after")
    assert _refused(
        _get(shared_server, shared_mock, MEAN_MAX, {**params, "after": "lots"}), "after"
    )
    five = _get(
        shared_server, shared_mock, MEAN_MAX, {**params, "after": [str(i) for i in range(5)]}
    )
    assert set(_table(five).column("after").to_pylist()) == {0.0, 1.0, 2.0, 3.0, 4.0}

    long_range = {**params, "start": (TODAY - timedelta(days=400)).isoformat(), "end": END}
    assert "1 year" in _refused(
        _get(shared_server, shared_mock, MEAN_MAX, {**long_range, "after": "0"}), "start"
    )
    # Without after, the range is not capped.
    assert _table(_get(shared_server, shared_mock, MEAN_MAX, long_range)).num_rows > 0


def test_durations_choose_the_grid(shared_mock: SweatStackMock, shared_server: MockServer) -> None:
    params = {
        "sport": "cycling",
        "metric": "power",
        "start": START,
        "end": END,
        "durations": "5,60,1200",
    }
    by_duration = _table(_get(shared_server, shared_mock, MEAN_MAX, {**params, "after": "0"}))
    assert _seconds(by_duration.column("duration")) == [5, 60, 1200]
    assert by_duration.column("power").to_pylist() == pytest.approx(
        list(_best(_matching(shared_mock, ["cycling"]), "power", [5, 60, 1200]).values())
    )
    by_intensity = _table(_get(shared_server, shared_mock, MEAN_MAX, params))
    assert set(_seconds(by_intensity.column("duration"))) == {5, 60, 1200}
    malformed = _get(shared_server, shared_mock, MEAN_MAX, {**params, "durations": "5,soon"})
    assert _refused(malformed, "durations")


def test_the_paths_without_activities_are_aliases(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    for name, params in (
        ("longitudinal-mean-max", {"sport": "cycling", "metric": "power", "start": START}),
        ("longitudinal-data", {"sport": "running", "start": START, "metrics": "speed"}),
        ("longitudinal-accumulated-work-duration", {"sport": "running", "metric": "speed"}),
    ):
        documented = _get(shared_server, shared_mock, f"{API}{name}", params)
        alias = _get(shared_server, shared_mock, f"/api/v1/{name}", params)
        assert _table(documented).equals(_table(alias)), name


def test_longitudinal_data_concatenates_the_activities_served_data(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    params = {"sport": "running", "start": START, "end": END, "metrics": ["duration", "speed"]}
    table = _table(_get(shared_server, shared_mock, f"{API}longitudinal-data", params))
    assert table.column_names == [
        "timestamp", "timestamp_local", "duration", "speed", "activity_id", "sport",
    ]  # fmt: skip
    runs = sorted(_matching(shared_mock, ["running"]), key=lambda s: s.start)
    assert list(dict.fromkeys(table.column("activity_id").to_pylist())) == [s.id for s in runs]
    first = runs[0]
    served = _table(
        _get(
            shared_server, shared_mock, f"{API}{first.id}/data", {"metrics": ["duration", "speed"]}
        )
    )
    own = table.filter(pa.compute.equal(table.column("activity_id"), first.id))
    assert own.select(served.column_names).equals(served)
    segmented = _table(
        _get(
            shared_server,
            shared_mock,
            f"{API}longitudinal-data",
            {**params, "segmentation_on": "speed"},
        )
    )
    assert 0 < segmented.num_rows < table.num_rows


def test_activity_awd_is_the_time_at_or_above_each_level(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    ride = _matching(shared_mock, ["cycling"])[0]
    run = _matching(shared_mock, ["running"])[0]
    for stored, metric, step in ((ride, "power", 1.0), (run, "speed", 0.01)):
        table = _table(
            _get(shared_server, shared_mock, f"{API}{stored.id}/accumulated-work-duration", {})
        )
        assert table.column_names == [metric, "duration"]  # the default metric of the sport
        grid = _served_grid(stored, metric)
        levels = table.column(metric).to_pylist()
        assert levels[0] == pytest.approx(np.floor(grid.max() / step + 1e-9) * step)
        for level, seconds in zip(
            levels[::37], _seconds(table.column("duration"))[::37], strict=True
        ):
            assert seconds == int(np.sum(grid >= level - 1e-9 * step))
    unrecorded = next(
        s
        for s in shared_mock.activities_of(shared_mock.default_user)
        if "power" not in s.recorded_metrics
    )
    response = _get(
        shared_server,
        shared_mock,
        f"{API}{unrecorded.id}/accumulated-work-duration",
        {"metric": "power"},
    )
    assert _refused(response, "metric")


def test_longitudinal_awd_max_is_the_highest_daily_total(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    params = {"sport": "cycling", "metric": "power", "start": START, "end": END}
    path = f"{API}longitudinal-accumulated-work-duration"
    table = _table(_get(shared_server, shared_mock, path, params))
    assert table.column_names == ["power", "max", "hard", "medium", "easy"]
    rides = _matching(shared_mock, ["cycling"])
    for row in table.to_pylist()[::50]:
        daily: dict[Any, int] = {}
        each = []
        for stored in rides:
            seconds = int(np.sum(_served_grid(stored, "power") >= row["power"]))
            daily[stored.start_local.date()] = daily.get(stored.start_local.date(), 0) + seconds
            each.append(seconds)
        assert row["max"] == max(daily.values())
        assert row["easy"] <= row["medium"] <= row["hard"] <= max(each)
    refused = _get(shared_server, shared_mock, path, {"sport": "cycling"})
    assert _refused(refused, "metric") == "Field required"


def test_a_long_analysis_does_not_hold_up_other_requests(
    fresh_server: tuple[SweatStackMock, str],
) -> None:
    mock, url = fresh_server
    headers = {"Authorization": f"Bearer {mock.token_for()}"}
    everything = {
        "sport": ["cycling", "running", "swimming", "walking"],
        "metrics": "duration,power,speed,heart_rate,cadence,altitude,distance,latitude,longitude",
    }
    finished: list[tuple[int, float]] = []

    def analyse() -> None:  # every activity's samples, synthesized on first use: seconds
        answer = httpx.get(
            f"{url}{API}longitudinal-data", params=everything, headers=headers, timeout=120
        )
        finished.append((answer.status_code, time.monotonic()))

    worker = threading.Thread(target=analyse)
    began = time.monotonic()
    worker.start()
    time.sleep(0.1)
    latest = _HTTP.get(f"{url}{API}latest", headers=headers)
    answered = time.monotonic()
    worker.join()

    assert latest.status_code == 200 and finished[0][0] == 200
    # Answered while the analysis was still being computed, not once it was sent.
    took_s, left_s = finished[0][1] - began, finished[0][1] - answered
    assert left_s > 0.3 * took_s, (took_s, left_s)
