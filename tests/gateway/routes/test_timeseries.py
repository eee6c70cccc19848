"""Timeseries, mean-max and longitudinal queries over real HTTP, across both providers."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tests.gateway.routes.test_activities import assert_problem, walk
from training_gateway.gateway.encoding import ERRORS_METADATA_KEY
from training_gateway.gateway.storage.analytics import MAX_CACHED_AFTERS
from training_gateway.models.mean_max import DEFAULT_DURATIONS_S, mean_max_reference, on_one_hz_grid
from training_gateway.models.timeseries import TIMESERIES_COLUMNS, schema_for

PARQUET = "application/vnd.apache.parquet"
ARROW = "application/vnd.apache.arrow.stream"


def recorded(api: httpx.Client, provider: str, sport: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"provider": provider, "status": "completed", "limit": 50}
    if sport:
        params["sport"] = sport
    return next(a for a in walk(api, **params) if a["distance_m"])


def read_parquet(response: httpx.Response) -> pa.Table:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(PARQUET)
    return pq.read_table(io.BytesIO(response.content))


def test_data_has_one_column_schema_whatever_the_provider(readonly_api: httpx.Client) -> None:
    for provider in ("sweatstack", "astral"):
        activity = recorded(readonly_api, provider, "cycling")
        table = read_parquet(readonly_api.get(f"/v1/activities/{activity['id']}/data"))
        assert table.num_rows > 600
        assert table.column_names[:3] == ["timestamp", "timestamp_local", "duration"]
        for field in table.schema:
            assert field.type == TIMESERIES_COLUMNS[field.name], (provider, field)
        assert {"heart_rate", "power", "speed"} <= set(table.column_names), provider
        order = list(TIMESERIES_COLUMNS)
        assert [order.index(c) for c in table.column_names] == sorted(
            order.index(c) for c in table.column_names
        )
        stamps = table.column("timestamp").to_pylist()
        assert stamps[0] == datetime.fromisoformat(activity["start"]).astimezone(UTC)
        assert stamps == sorted(stamps)


def test_data_content_negotiation_and_metric_selection(readonly_api: httpx.Client) -> None:
    activity = recorded(readonly_api, "sweatstack", "cycling")
    path = f"/v1/activities/{activity['id']}/data"
    parquet = read_parquet(readonly_api.get(path, params={"metrics": "heart_rate,power"}))
    assert parquet.column_names == [
        "timestamp",
        "timestamp_local",
        "duration",
        "heart_rate",
        "power",
    ]
    arrow = readonly_api.get(
        path, params={"metrics": ["heart_rate", "power"]}, headers={"Accept": ARROW}
    )
    assert arrow.headers["content-type"].startswith(ARROW)
    assert pa.ipc.open_stream(arrow.content).read_all().equals(parquet)
    as_json = readonly_api.get(
        path, params={"metrics": "power"}, headers={"Accept": "application/json"}
    )
    body = as_json.json()
    assert body["columns"] == ["timestamp", "timestamp_local", "duration", "power"]
    assert body["data"]["power"] == parquet.column("power").to_pylist()
    assert_problem(readonly_api.get(path, headers={"Accept": "text/csv"}), 406, field="Accept")


def test_unknown_metric_is_400_and_no_streams_is_404(readonly_api: httpx.Client) -> None:
    activity = recorded(readonly_api, "astral")
    assert_problem(
        readonly_api.get(f"/v1/activities/{activity['id']}/data", params={"metrics": "watts"}),
        400,
        field="metrics",
    )
    planned = walk(readonly_api, provider="astral", status="scheduled", limit=5)[0]
    body = assert_problem(readonly_api.get(f"/v1/activities/{planned['id']}/data"), 404)
    assert "stream" in body["detail"] or "sample" in body["detail"]


def reference_curve(
    table: pa.Table, metric: str, durations: list[int]
) -> dict[int, tuple[float, datetime]]:
    elapsed = table.column("duration").to_numpy().astype(float)
    values = table.column(metric).to_numpy(zero_copy_only=False).astype(float)
    grid = on_one_hz_grid(elapsed, values, metric)
    best, where = mean_max_reference(grid, np.array(durations))
    t0 = table.column("timestamp").to_pylist()[0]
    return {
        d: (float(v), t0 + timedelta(seconds=int(i)))
        for d, v, i in zip(durations, best, where, strict=True)
        if i >= 0
    }


def test_mean_max_matches_the_providers_answer_and_the_exact_reference(
    readonly_api: httpx.Client,
) -> None:
    for provider in ("sweatstack", "astral"):
        activity = recorded(readonly_api, provider, "cycling")
        table = read_parquet(readonly_api.get(f"/v1/activities/{activity['id']}/data"))
        durations = [1, 5, 30, 60, 300, 1200]
        curve = readonly_api.get(
            f"/v1/activities/{activity['id']}/mean-max",
            params={"metric": "power", "durations": ",".join(map(str, durations))},
        ).json()
        assert curve["source"] == ("sweatstack" if provider == "sweatstack" else "gateway")
        expected = reference_curve(table, "power", durations)
        got = {
            p["duration_s"]: (p["value"], datetime.fromisoformat(p["start"]))
            for p in curve["points"]
        }
        assert set(got) == set(expected)
        for d in durations:
            assert abs(got[d][0] - expected[d][0]) < 1e-6, (provider, d)
            assert got[d][1] == expected[d][1], (provider, d)


def test_mean_max_default_grid_all_and_heart_rate(readonly_api: httpx.Client) -> None:
    activity = recorded(readonly_api, "sweatstack", "cycling")
    path = f"/v1/activities/{activity['id']}/mean-max"
    default = readonly_api.get(path, params={"metric": "power"}).json()["points"]
    assert [p["duration_s"] for p in default] == [
        d for d in DEFAULT_DURATIONS_S if d <= activity["duration_s"]
    ]
    every = readonly_api.get(path, params={"metric": "power", "durations": "all"}).json()
    assert every["source"] == "gateway" and len(every["points"]) > 180
    by_duration = {p["duration_s"]: p["value"] for p in every["points"]}
    for point in default:
        if point["duration_s"] in by_duration:
            assert abs(point["value"] - by_duration[point["duration_s"]]) < 1e-6
    hr = readonly_api.get(path, params={"metric": "heart_rate", "durations": "60"}).json()
    assert hr["source"] == "gateway" and 60 < hr["points"][0]["value"] < 220
    assert_problem(readonly_api.get(path, params={"metric": "torque"}), 400, field="metric")
    assert_problem(
        readonly_api.get(path, params={"metric": "power", "durations": "5,abc"}),
        400,
        field="durations",
    )


def test_longitudinal_data_streams_every_provider_in_one_schema(readonly_api: httpx.Client) -> None:
    since = (datetime.now(UTC) - timedelta(days=12)).date().isoformat()
    params = {"sport": "cycling", "start": since, "metrics": "heart_rate,power"}
    expected = [
        a for a in walk(readonly_api, sport="cycling", start=since, status="completed", limit=200)
    ]
    response = readonly_api.get("/v1/activities/longitudinal-data", params=params)
    table = read_parquet(response)
    assert table.schema == schema_for(("heart_rate", "power"), longitudinal=True)
    assert set(table.column("activity_id").to_pylist()) == {a["id"] for a in expected}
    assert {a["provider"] for a in expected} == {"sweatstack", "astral"}
    assert set(table.column("provider").to_pylist()) == {"sweatstack", "astral"}
    footer = pq.ParquetFile(io.BytesIO(response.content)).metadata.metadata or {}
    assert json.loads(footer[ERRORS_METADATA_KEY]) == []
    one = expected[0]
    rows = read_parquet(
        readonly_api.get(f"/v1/activities/{one['id']}/data", params={"metrics": "heart_rate,power"})
    )
    mine = table.filter(pa.compute.equal(table.column("activity_id"), one["id"]))
    assert mine.num_rows == rows.num_rows
    assert mine.column("power").to_pylist() == rows.column("power").to_pylist()
    arrow = readonly_api.get(
        "/v1/activities/longitudinal-data", params=params, headers={"Accept": ARROW}
    )
    assert pa.ipc.open_stream(arrow.content).read_all().num_rows == table.num_rows


def test_longitudinal_mean_max_is_the_attributed_envelope_and_is_cached(api: httpx.Client) -> None:
    since = (datetime.now(UTC) - timedelta(days=21)).date().isoformat()
    params = {"sport": "cycling", "metric": "power", "start": since, "durations": "5,60,300"}
    first = api.get("/v1/activities/longitudinal-mean-max", params=params)
    assert first.status_code == 200, first.text
    envelope = first.json()
    assert envelope["errors"] == [] and envelope["computed"] == envelope["activities"] > 0
    rides = walk(api, sport="cycling", start=since, status="completed", limit=200)
    curves = {
        r["id"]: {
            p["duration_s"]: p["value"]
            for p in api.get(
                f"/v1/activities/{r['id']}/mean-max",
                params={"metric": "power", "durations": "5,60,300"},
            ).json()["points"]
        }
        for r in rides
    }
    # Without after the curve is by intensity: a row per watt, with the longest duration of
    # the grid whose best reaches it, attributed to the activity that set that duration.
    assert envelope["by"] == "intensity" and envelope["source"] == "gateway"
    best = {d: max(c.get(d, -1) for c in curves.values()) for d in (5, 60, 300)}
    levels = [row["value"] for row in envelope["points"]]
    assert levels == list(range(int(min(best.values())), int(max(best.values())) + 1))
    for row in envelope["points"]:
        assert row["duration_s"] == max(d for d, v in best.items() if v >= row["value"])
        assert abs(curves[row["activity_id"]][row["duration_s"]] - best[row["duration_s"]]) < 1e-6
        assert row["provider"] == row["activity_id"].split(":")[0]
    again = api.get("/v1/activities/longitudinal-mean-max", params=params).json()
    assert again["computed"] == 0 and again["points"] == envelope["points"]
    wider = api.get(
        "/v1/activities/longitudinal-mean-max", params={**params, "durations": "5,60,300,600"}
    ).json()
    assert wider["computed"] == envelope["activities"]  # 600 s was not cached yet
    # The longest duration holds the lowest levels.
    assert 600 in {p["duration_s"] for p in wider["points"]} <= {5, 60, 300, 600}
    narrower = {**params, "durations": "60,600"}
    assert api.get("/v1/activities/longitudinal-mean-max", params=narrower).json()["computed"] == 0
    with_after = api.get(
        "/v1/activities/longitudinal-mean-max", params={**params, "after": ["0", "200"]}
    ).json()
    afters = {p["after"] for p in with_after["points"]}
    assert afters == {0.0, 200.0}
    fresh = {(p["duration_s"]): p["value"] for p in with_after["points"] if p["after"] == 200.0}
    unfatigued = {(p["duration_s"]): p["value"] for p in with_after["points"] if p["after"] == 0.0}
    assert all(fresh[d] <= unfatigued[d] + 1e-9 for d in fresh)


def test_longitudinal_mean_max_refuses_bad_input(readonly_api: httpx.Client) -> None:
    path = "/v1/activities/longitudinal-mean-max"
    assert_problem(
        readonly_api.get(path, params={"metric": "power", "after": ["1", "2", "3", "4", "5", "6"]}),
        400,
        field="after",
    )
    # SweatStack's rules for `by`: duration needs after; speed with after is intensity-only.
    assert_problem(
        readonly_api.get(path, params={"metric": "power", "by": "duration"}), 400, field="by"
    )
    assert_problem(
        readonly_api.get(path, params={"metric": "speed", "after": "0", "by": "duration"}),
        400,
        field="by",
    )
    assert_problem(
        readonly_api.get(path, params={"metric": "power", "by": "value"}), 400, field="by"
    )
    assert_problem(
        readonly_api.get(
            path,
            params={"metric": "power", "after": "10", "start": "2020-01-01", "end": "2026-01-01"},
        ),
        400,
        field="start",
    )
    assert_problem(
        readonly_api.get(path, params={"metric": "power", "sport": "kitesurfing"}),
        400,
        field="sport",
    )


def test_backfill_status_merges_provider_progress_as_ndjson(
    gateway: Any, api: httpx.Client
) -> None:
    mock = gateway.demo.mocks["sweatstack"]
    mock.backfill_interval_s, mock.backfill_step = 0.01, 10
    with api.stream("GET", "/v1/activities/backfill-status") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        every = [json.loads(line) for line in response.iter_lines() if line.strip()]
    # First the gateway's own index of each connection, then the providers' backfills.
    index = [line for line in every if "index" in line]
    assert every[: len(index)] == index
    assert {(line["provider"], line["index"]) for line in index} == {
        (p, kind) for p in ("astral", "sweatstack") for kind in ("activity", "test")
    }
    assert all(line["index_status"] in ("pending", "running", "done") for line in index)
    lines = every[len(index) :]
    assert lines and {line["provider"] for line in lines} == {"sweatstack"}
    moments = [datetime.fromisoformat(line["backfill_loaded_until"]) for line in lines]
    assert all(m.tzinfo is not None for m in moments)
    assert moments == sorted(moments, reverse=True) and moments[0] > moments[-1]


def test_backfill_status_closes_after_its_window(gateway: Any, api: httpx.Client) -> None:
    mock = gateway.demo.mocks["sweatstack"]
    mock.backfill_interval_s, mock.backfill_step = 0.05, 1
    began = datetime.now(UTC)
    with api.stream("GET", "/v1/activities/backfill-status") as response:
        lines = [line for line in response.iter_lines() if line.strip()]
    elapsed = (datetime.now(UTC) - began).total_seconds()
    assert lines and elapsed < 5.0
    assert elapsed >= 0.9  # the test gateway's window is 1 s (tests/gateway/conftest.py)


def test_backfill_failure_is_a_named_line(gateway: Any, api: httpx.Client) -> None:
    gateway.demo.mocks["sweatstack"].faults.fail_next(500)
    with api.stream("GET", "/v1/activities/backfill-status") as response:
        every = [json.loads(line) for line in response.iter_lines() if line.strip()]
    lines = [line for line in every if "index" not in line]
    assert lines == [{"provider": "sweatstack", "error": lines[0]["error"]}]
    assert "500" in lines[0]["error"]


def test_edge_inputs_are_4xx_naming_the_field(readonly_api: httpx.Client) -> None:
    cases = ({"end": "9999-12-31"}, {"start": "0001-01-01"}, {"start": "0001-01-01T00:00:00+01:00"})
    for params in cases:
        field = next(iter(params))
        assert_problem(readonly_api.get("/v1/activities", params=params), 400, field=field)
        longitudinal = {"metric": "power", **params}
        assert_problem(
            readonly_api.get("/v1/activities/longitudinal-mean-max", params=longitudinal),
            400,
            field=field,
        )
        assert_problem(
            readonly_api.get("/v1/activities/longitudinal-data", params=params), 400, field=field
        )
    assert_problem(readonly_api.get("/v1/activities/longitudinal-mean-max"), 400, field="metric")
    assert_problem(readonly_api.get("/v1/activities/astral:."), 404)
    run = recorded(readonly_api, "sweatstack", "running")
    refused = readonly_api.get(
        f"/v1/activities/{run['id']}/data", headers={"Accept": "application/json;q=-1"}
    )
    assert_problem(refused, 406)
    no_power = readonly_api.get(f"/v1/activities/{run['id']}/mean-max", params={"metric": "power"})
    assert "power" in assert_problem(no_power, 404)["detail"]


def test_fatigue_state_curves_cached_per_activity_are_bounded(
    gateway: Any, api: httpx.Client
) -> None:
    since = (datetime.now(UTC) - timedelta(days=10)).date().isoformat()
    params = {"sport": "cycling", "metric": "power", "start": since, "durations": "60,300"}
    for first in (0, 5, 10, 15):  # 20 distinct after values, five per request
        afters = [str(first + i) for i in range(5)]
        answer = api.get("/v1/activities/longitudinal-mean-max", params={**params, "after": afters})
        assert answer.status_code == 200, answer.text
        assert answer.json()["computed"] == answer.json()["activities"] > 0
    with sqlite3.connect(gateway.data_dir / "gateway.sqlite3") as db:
        per_activity = db.execute(
            "SELECT activity_id, count(*) FROM mean_max_curves WHERE after >= 0 "
            "GROUP BY activity_id"
        ).fetchall()
    assert per_activity and max(count for _, count in per_activity) == MAX_CACHED_AFTERS
    # The most recent states stay cached; the first ones were evicted and are computed again.
    recent = {**params, "after": ["15", "16", "17", "18", "19"]}
    assert api.get("/v1/activities/longitudinal-mean-max", params=recent).json()["computed"] == 0
    evicted = {**params, "after": ["0"]}
    again = api.get("/v1/activities/longitudinal-mean-max", params=evicted).json()
    assert again["computed"] == again["activities"]
