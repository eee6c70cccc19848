"""Segmentation over loopback, gateway to mocks: `segmentation_on` on an activity's data is
forwarded to SweatStack (its AISC) and computed by the gateway's codec for Astral, the answer
naming which; the mean-max `segmentation` flag likewise; bad values are refused by name."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.gateway.routes.test_activities import assert_problem
from tests.gateway.routes.test_timeseries import read_parquet, recorded
from training_gateway.gateway.encoding import ERRORS_METADATA_KEY
from training_gateway.gateway.services.timeseries import longitudinal_schema
from training_gateway.models.mean_max import mean_max_reference, on_one_hz_grid
from training_gateway.models.segmentation import segment_table
from training_gateway.models.timeseries import TIMESERIES_COLUMNS

CASES = [
    ("sweatstack", "cycling", "power"),
    ("sweatstack", "running", "speed"),
    ("astral", "cycling", "power"),
    ("astral", "running", "speed"),
]


def _data(api: httpx.Client, activity_id: str, **params: str) -> httpx.Response:
    return api.get(f"/v1/activities/{activity_id}/data", params=params)


@pytest.mark.parametrize(("provider", "sport", "key"), CASES)
def test_segmented_data_is_20_to_50_times_smaller_within_the_bound_and_says_who_segmented(
    readonly_api: httpx.Client, provider: str, sport: str, key: str
) -> None:
    activity = recorded(readonly_api, provider, sport)
    raw = read_parquet(_data(readonly_api, activity["id"]))
    response = _data(readonly_api, activity["id"], segmentation_on=key)
    segments = read_parquet(response)

    assert response.headers["segmented-by"] == (
        "sweatstack" if provider == "sweatstack" else "gateway"
    )
    assert 20 <= raw.num_rows / segments.num_rows <= 50
    assert segments.column_names[:3] == ["timestamp", "timestamp_local", "duration"]
    assert set(segments.column_names) == set(raw.column_names)
    for field in segments.schema:
        assert field.type == TIMESERIES_COLUMNS[field.name], field
    lengths = segments.column("duration").to_numpy()
    stamps = segments.column("timestamp").cast(pa.int64()).to_numpy() // 1000
    assert stamps[0] == raw.column("timestamp").cast(pa.int64()).to_numpy()[0] // 1000
    assert np.array_equal(np.diff(stamps), lengths[:-1])
    # docs/segmentation.md: within min(0.6 L, 8 s x L / d) of the exact curve, L the mean
    # level, plus 0.5 W where the unified schema rounds power to whole watts.
    elapsed = raw.column("duration").to_numpy()
    exact_series = on_one_hz_grid(elapsed, raw.column(key).to_numpy(zero_copy_only=False), key)
    assert lengths.sum() == exact_series.size
    coded_series = np.repeat(
        segments.column(key).to_numpy(zero_copy_only=False).astype(np.float64),
        lengths.astype(np.int64),
    )
    durations = np.array([1, 5, 30, 60, 300, 1200])
    exact, _ = mean_max_reference(exact_series, durations)
    coded, _ = mean_max_reference(coded_series, durations)
    level = float(np.mean(exact_series))
    rounding = 0.5 if key == "power" else 1e-4 * level
    assert np.all(
        np.abs(coded - exact) <= np.minimum(0.6 * level, 8 * level / durations) + rounding
    )


def test_the_gateway_codec_cuts_sweatstack_data_where_sweatstack_does(
    readonly_api: httpx.Client,
) -> None:
    """The mock's AISC stand-in and the gateway's codec are one codec: the same segments."""
    ride = recorded(readonly_api, "sweatstack", "cycling")
    raw = read_parquet(_data(readonly_api, ride["id"]))
    forwarded = read_parquet(_data(readonly_api, ride["id"], segmentation_on="power"))
    computed = segment_table(raw, "power", tuple(raw.column_names[3:]))
    assert forwarded.column("duration").equals(computed.column("duration"))
    assert forwarded.column("timestamp").equals(computed.column("timestamp"))


def test_segmented_data_in_json_says_who_segmented_too(readonly_api: httpx.Client) -> None:
    run = recorded(readonly_api, "astral", "running")
    params = {"segmentation_on": "speed", "metrics": "speed,heart_rate"}
    path = f"/v1/activities/{run['id']}/data"
    response = readonly_api.get(path, params=params, headers={"Accept": "application/json"})
    parquet = read_parquet(readonly_api.get(path, params=params))

    assert response.status_code == 200, response.text
    assert response.headers["segmented-by"] == "gateway"
    body = response.json()
    assert body["columns"] == ["timestamp", "timestamp_local", "duration", "heart_rate", "speed"]
    assert body["data"]["duration"] == parquet.column("duration").to_pylist()
    assert body["data"]["speed"] == parquet.column("speed").to_pylist()


def test_unsegmented_data_carries_no_segmented_by(readonly_api: httpx.Client) -> None:
    ride = recorded(readonly_api, "sweatstack", "cycling")
    assert "segmented-by" not in _data(readonly_api, ride["id"], metrics="power").headers


@pytest.mark.parametrize("provider", ["sweatstack", "astral"])
def test_segmenting_on_a_metric_the_activity_lacks_is_422_naming_the_parameter(
    readonly_api: httpx.Client, provider: str
) -> None:
    run = recorded(readonly_api, provider, "running")  # runs record no power
    body = assert_problem(
        _data(readonly_api, run["id"], segmentation_on="power"), 422, field="segmentation_on"
    )
    assert "power" in body["detail"]


def test_segmentation_on_anything_but_power_or_speed_is_400(readonly_api: httpx.Client) -> None:
    ride = recorded(readonly_api, "sweatstack", "cycling")
    assert_problem(
        _data(readonly_api, ride["id"], segmentation_on="heart_rate"), 400, field="segmentation_on"
    )


def _curve(api: httpx.Client, activity_id: str, **params: str) -> dict[str, object]:
    response = api.get(
        f"/v1/activities/{activity_id}/mean-max", params={"metric": "power", **params}
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.mark.parametrize(
    ("provider", "durations", "source", "segmented_by"),
    [
        ("sweatstack", None, "sweatstack", "sweatstack"),  # SweatStack thins its own curve
        ("sweatstack", "all", "gateway", "gateway"),  # the gateway computes `all` itself
        ("astral", "all", "gateway", "gateway"),
    ],
)
def test_mean_max_segmentation_thins_to_exact_points_and_says_who_thinned(
    readonly_api: httpx.Client,
    provider: str,
    durations: str | None,
    source: str,
    segmented_by: str,
) -> None:
    ride = recorded(readonly_api, provider, "cycling")
    grid = {} if durations is None else {"durations": durations}
    full = _curve(readonly_api, ride["id"], **grid)
    thinned = _curve(readonly_api, ride["id"], segmentation="true", **grid)

    assert full["segmented_by"] is None
    assert thinned["source"] == source and thinned["segmented_by"] == segmented_by
    points: list[dict[str, object]] = full["points"]  # type: ignore[assignment]
    kept: list[dict[str, object]] = thinned["points"]  # type: ignore[assignment]
    assert len(kept) < len(points) and all(point in points for point in kept)
    assert kept[0] == points[0] and kept[-1] == points[-1]
    if durations == "all":
        assert len(kept) <= len(points) // 5
    log_kept = np.log([float(p["duration_s"]) for p in kept])  # type: ignore[arg-type]
    values = np.array([float(p["value"]) for p in points])  # type: ignore[arg-type]
    line = np.interp(
        np.log([float(p["duration_s"]) for p in points]),  # type: ignore[arg-type]
        log_kept,
        [float(p["value"]) for p in kept],  # type: ignore[arg-type]
    )
    assert np.all(np.abs(line - values) <= 0.01 * values + 1e-9)


def test_mean_max_segmentation_that_is_not_a_boolean_is_400(readonly_api: httpx.Client) -> None:
    ride = recorded(readonly_api, "astral", "cycling")
    response = readonly_api.get(
        f"/v1/activities/{ride['id']}/mean-max", params={"metric": "power", "segmentation": "maybe"}
    )
    assert_problem(response, 400)
    assert "segmentation" in response.text


def test_thinning_a_curve_by_intensity_is_refused_naming_segmentation(
    readonly_api: httpx.Client,
) -> None:
    ride = recorded(readonly_api, "sweatstack", "cycling")
    response = readonly_api.get(
        f"/v1/activities/{ride['id']}/mean-max",
        params={"metric": "power", "by": "intensity", "segmentation": "true"},
    )
    body = assert_problem(response, 422, field="segmentation")
    assert "by=duration" in body["detail"]


def test_segmented_longitudinal_data_is_each_activitys_segmented_data_and_names_who(
    readonly_api: httpx.Client,
) -> None:
    since = (datetime.now(UTC) - timedelta(days=12)).date().isoformat()
    params = {"sport": "cycling", "start": since, "metrics": "power", "segmentation_on": "power"}
    response = readonly_api.get("/v1/activities/longitudinal-data", params=params)
    table = read_parquet(response)

    assert table.schema == longitudinal_schema(("power",), segmented=True)
    by_activity = {
        activity_id: table.filter(pa.compute.equal(table.column("activity_id"), activity_id))
        for activity_id in set(table.column("activity_id").to_pylist())
    }
    assert {a.split(":")[0] for a in by_activity} == {"sweatstack", "astral"}
    for activity_id, rows in list(by_activity.items())[:4]:
        own = _data(readonly_api, activity_id, metrics="power", segmentation_on="power")
        segments = read_parquet(own)
        assert rows.column("power").to_pylist() == segments.column("power").to_pylist()
        assert rows.column("duration").to_pylist() == segments.column("duration").to_pylist()
        assert set(rows.column("segmented_by").to_pylist()) == {own.headers["segmented-by"]}


def test_segmented_longitudinal_runs_leave_out_activities_without_power(
    readonly_api: httpx.Client,
) -> None:
    since = (datetime.now(UTC) - timedelta(days=12)).date().isoformat()
    params = {"sport": "running", "start": since, "segmentation_on": "power"}
    response = readonly_api.get("/v1/activities/longitudinal-data", params=params)

    assert response.status_code == 200, response.text
    assert read_parquet(response).num_rows == 0  # runs record no power
    footer = pq.ParquetFile(io.BytesIO(response.content)).metadata.metadata or {}
    assert json.loads(footer[ERRORS_METADATA_KEY]) == []


def test_longitudinal_data_segmented_on_heart_rate_is_400(readonly_api: httpx.Client) -> None:
    params = {"sport": "cycling", "segmentation_on": "heart_rate"}
    assert_problem(
        readonly_api.get("/v1/activities/longitudinal-data", params=params),
        400,
        field="segmentation_on",
    )
