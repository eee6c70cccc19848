"""The SweatStack adapter's data operations against respx: activity data and mean-max Parquet,
multipart uploads and the backfill NDJSON stream (what is sent, what is decoded, named errors)."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone

import httpx
import numpy as np
import pyarrow as pa
import pytest
import respx

from training_gateway.adapters.base import (
    Credentials,
    LongitudinalMeanMaxQuery,
    MeanMaxPoint,
    UploadedFile,
)
from training_gateway.adapters.sweatstack import SweatStackAdapter
from training_gateway.adapters.sweatstack.mock.parquet import (
    activity_table,
    mean_max_table,
    to_parquet,
)
from training_gateway.models.errors import (
    InvalidInput,
    NotFound,
    ProviderError,
    ProviderRejected,
    ProviderTimeout,
)
from training_gateway.models.timeseries import DEFAULT_METRICS, schema_for

BASE_URL = "https://sweatstack.test"
ACTIVITIES = f"{BASE_URL}/api/v1/activities/"
DATA_URL = f"{ACTIVITIES}act_1/data"
MEAN_MAX_URL = f"{ACTIVITIES}act_1/mean-max"
UPLOAD_URL = f"{ACTIVITIES}upload"
BACKFILL_URL = f"{ACTIVITIES}backfill-status"
CREDS = Credentials(access_token="token-abc", subject="usr_1")
CEST = timezone(timedelta(hours=2))
START = datetime(2026, 5, 18, 17, 32, tzinfo=CEST)


@pytest.fixture
async def adapter() -> AsyncIterator[SweatStackAdapter]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield SweatStackAdapter(BASE_URL, http)


def _streams(count: int = 5) -> dict[str, np.ndarray]:
    elapsed = np.arange(count, dtype=np.int64)
    return {
        "elapsed_s": elapsed,
        "power": np.array([200, 210, np.nan, 230, 240][:count]),
        "heart_rate": 120 + elapsed,
        "speed": 8.0 + elapsed / 4,
        "latitude": 59.9 + elapsed * 1e-5,
    }


def _parquet(table: pa.Table) -> httpx.Response:
    return httpx.Response(
        200, content=to_parquet(table), headers={"content-type": "application/vnd.apache.parquet"}
    )


def _source(source_id: str, filename: str) -> dict[str, object]:
    return {
        "id": source_id,
        "type": "fit",
        "origin": "manual_upload",
        "filename": filename,
        "status": "processing",
        "activity_ids": [],
        "created_at": "2026-05-18T18:20:00Z",
    }


# --- activity data ----------------------------------------------------------------------


@respx.mock
async def test_data_asks_for_duration_and_each_metric_once_as_repeated_parameters(
    adapter: SweatStackAdapter,
) -> None:
    table = activity_table(START, _streams(), ["duration", "power", "heart_rate"])
    route = respx.get(DATA_URL).mock(return_value=_parquet(table))

    await adapter.activity_data(CREDS, "act_1", ["power", "heart_rate", "power"])

    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer token-abc"
    assert request.url.params.multi_items() == [
        ("metrics", "duration"),
        ("metrics", "heart_rate"),
        ("metrics", "power"),
    ]


@respx.mock
async def test_data_is_read_into_the_unified_schema(adapter: SweatStackAdapter) -> None:
    metrics = ["power", "heart_rate", "speed", "latitude"]
    respx.get(DATA_URL).mock(
        return_value=_parquet(activity_table(START, _streams(), ["duration", *metrics]))
    )

    table = await adapter.activity_data(CREDS, "act_1", [*metrics, "altitude"])

    assert table.schema == schema_for(metrics)  # altitude was not recorded: left out
    rows = table.to_pylist()
    assert [row["duration"] for row in rows] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert rows[0]["timestamp"] == START
    assert rows[1]["timestamp"].utcoffset() == timedelta(0)
    assert rows[1]["timestamp_local"] == datetime(2026, 5, 18, 17, 32, 1)
    assert [row["power"] for row in rows] == [200, 210, None, 230, 240]
    assert [row["heart_rate"] for row in rows] == [120, 121, 122, 123, 124]
    assert rows[3]["speed"] == pytest.approx(8.75)
    assert rows[4]["latitude"] == pytest.approx(59.90004)


@respx.mock
async def test_data_reads_the_older_pandas_index_layout(adapter: SweatStackAdapter) -> None:
    frame = activity_table(START, _streams(), ["duration", "heart_rate"]).to_pandas()
    sink = io.BytesIO()
    frame.set_index("timestamp").to_parquet(sink)  # older servers wrote timestamp as the index
    respx.get(DATA_URL).mock(return_value=httpx.Response(200, content=sink.getvalue()))

    table = await adapter.activity_data(CREDS, "act_1", ["heart_rate"])

    assert table.schema == schema_for(["heart_rate"])
    assert table.column("timestamp").to_pylist()[0] == START


@respx.mock
async def test_data_of_an_activity_without_samples_is_not_found(
    adapter: SweatStackAdapter,
) -> None:
    empty = activity_table(START, {"elapsed_s": np.array([], dtype=np.int64)}, ["duration"])
    respx.get(DATA_URL).mock(return_value=_parquet(empty))

    with pytest.raises(NotFound, match=r"act_1.*no streams"):
        await adapter.activity_data(CREDS, "act_1", DEFAULT_METRICS)


@respx.mock
async def test_data_of_an_unknown_activity_is_not_found_naming_it(
    adapter: SweatStackAdapter,
) -> None:
    respx.get(DATA_URL).mock(return_value=httpx.Response(404, json={"detail": "not found"}))

    with pytest.raises(NotFound, match="act_1"):
        await adapter.activity_data(CREDS, "act_1", DEFAULT_METRICS)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b'{"detail": "json, not parquet"}', "not readable Parquet"),
        (b"PAR1 truncated", "not readable Parquet"),
        (to_parquet(pa.table({"duration": pa.array([0], pa.duration("s"))})), "'timestamp'"),
        (
            to_parquet(pa.table({"timestamp": pa.array([0], pa.timestamp("s"))})),  # naive
            "'duration'",
        ),
    ],
)
@respx.mock
async def test_data_that_does_not_read_is_a_provider_error_naming_sweatstack(
    adapter: SweatStackAdapter, content: bytes, match: str
) -> None:
    respx.get(DATA_URL).mock(return_value=httpx.Response(200, content=content))

    with pytest.raises(ProviderError, match=match) as caught:
        await adapter.activity_data(CREDS, "act_1", DEFAULT_METRICS)
    assert caught.value.provider == "sweatstack"
    assert "sweatstack" in caught.value.detail


@respx.mock
async def test_data_with_a_naive_timestamp_is_a_provider_error(adapter: SweatStackAdapter) -> None:
    table = pa.table(
        {
            "timestamp": pa.array([0, 1], pa.timestamp("s")),
            "duration": pa.array([0, 1], pa.duration("s")),
        }
    )
    respx.get(DATA_URL).mock(return_value=_parquet(table))

    with pytest.raises(ProviderError, match="not UTC"):
        await adapter.activity_data(CREDS, "act_1", ["power"])


@respx.mock
async def test_data_refuses_unknown_metrics_and_endpoint_ids_without_asking(
    adapter: SweatStackAdapter,
) -> None:
    route = respx.get(url__startswith=ACTIVITIES).mock(return_value=httpx.Response(500))

    with pytest.raises(InvalidInput) as refused:
        await adapter.activity_data(CREDS, "act_1", ["power", "watts"])
    with pytest.raises(NotFound, match="upload"):
        await adapter.activity_data(CREDS, "upload", ["power"])

    assert refused.value.field == "metrics" and "watts" in refused.value.detail
    assert not route.called


# --- mean-max ---------------------------------------------------------------------------


@respx.mock
async def test_mean_max_sends_metric_and_comma_joined_durations(
    adapter: SweatStackAdapter,
) -> None:
    streams = _streams()
    route = respx.get(MEAN_MAX_URL).mock(
        side_effect=[
            _parquet(mean_max_table(START, streams["elapsed_s"], streams[metric], metric, [1, 2]))
            for metric in ("power", "speed")
        ]
    )

    await adapter.mean_max(CREDS, "act_1", "power", [1, 2, 60])
    await adapter.mean_max(CREDS, "act_1", "speed", [])

    first, second = (call.request for call in route.calls)
    assert first.url.params.multi_items() == [("metric", "power"), ("durations", "1,2,60")]
    assert second.url.params.multi_items() == [("metric", "speed")]  # the server's default grid
    assert first.headers["Authorization"] == "Bearer token-abc"


@respx.mock
async def test_mean_max_is_read_into_points(adapter: SweatStackAdapter) -> None:
    streams = _streams()
    table = mean_max_table(START, streams["elapsed_s"], streams["power"], "power", [1, 2, 3, 60])
    respx.get(MEAN_MAX_URL).mock(return_value=_parquet(table))

    points = await adapter.mean_max(CREDS, "act_1", "power", [1, 2, 3, 60])

    # The gap at 2 s counts as 0 W; 60 s is longer than the activity and left out.
    assert points == [
        MeanMaxPoint(duration_s=1, value=240.0, start=START + timedelta(seconds=4)),
        MeanMaxPoint(duration_s=2, value=235.0, start=START + timedelta(seconds=3)),
        MeanMaxPoint(duration_s=3, value=470 / 3, start=START + timedelta(seconds=2)),
    ]
    assert all(point.start.utcoffset() == timedelta(0) for point in points)


@respx.mock
async def test_mean_max_skips_rows_without_a_value(adapter: SweatStackAdapter) -> None:
    table = pa.table(
        {
            "duration": pa.array([5, 10], pa.duration("s")),
            "speed": pa.array([4.5, None], pa.float32()),
            "start": pa.array([START, START], pa.timestamp("s", tz="UTC")),
        }
    )
    respx.get(MEAN_MAX_URL).mock(return_value=_parquet(table))

    points = await adapter.mean_max(CREDS, "act_1", "speed", [5, 10])

    assert points == [MeanMaxPoint(duration_s=5, value=4.5, start=START)]


@pytest.mark.parametrize(
    "table",
    [
        pa.table({"duration": pa.array([5], pa.duration("s")), "power": [300.0]}),
        pa.table(
            {
                "duration": pa.array([5], pa.duration("s")),
                "power": ["300"],
                "start": pa.array([START], pa.timestamp("s", tz="UTC")),
            }
        ),
        pa.table(
            {
                "duration": pa.array([2500], pa.duration("ms")),
                "power": [300.0],
                "start": pa.array([START], pa.timestamp("s", tz="UTC")),
            }
        ),
    ],
    ids=["no start", "text values", "fractional duration"],
)
@respx.mock
async def test_mean_max_of_another_shape_is_a_provider_error(
    adapter: SweatStackAdapter, table: pa.Table
) -> None:
    respx.get(MEAN_MAX_URL).mock(return_value=_parquet(table))

    with pytest.raises(ProviderError, match="sweatstack sent the power mean-max"):
        await adapter.mean_max(CREDS, "act_1", "power", [5])


@respx.mock
async def test_mean_max_errors_are_named(adapter: SweatStackAdapter) -> None:
    route = respx.get(MEAN_MAX_URL).mock(
        side_effect=[
            httpx.Response(404, json={"detail": "Activity act_1 not found"}),
            httpx.Response(200, content=b"not parquet"),
            httpx.Response(422, json={"detail": [{"msg": "no power data"}]}),
        ]
    )

    with pytest.raises(NotFound, match="act_1"):
        await adapter.mean_max(CREDS, "act_1", "power", [5])
    with pytest.raises(ProviderError, match="sweatstack sent the power mean-max"):
        await adapter.mean_max(CREDS, "act_1", "power", [5])
    with pytest.raises(ProviderError, match="no power data") as unprocessable:
        await adapter.mean_max(CREDS, "act_1", "power", [5])
    assert unprocessable.value.upstream_status == 422
    assert route.call_count == 3


@respx.mock
async def test_mean_max_refuses_what_sweatstack_cannot_compute_without_asking(
    adapter: SweatStackAdapter,
) -> None:
    route = respx.get(MEAN_MAX_URL).mock(return_value=httpx.Response(500))

    with pytest.raises(InvalidInput) as metric:
        await adapter.mean_max(CREDS, "act_1", "heart_rate", [5])
    with pytest.raises(InvalidInput) as durations:
        await adapter.mean_max(CREDS, "act_1", "power", [5, 0])

    assert (metric.value.field, durations.value.field) == ("metric", "durations")
    assert not route.called


# --- uploads ----------------------------------------------------------------------------


@respx.mock
async def test_upload_sends_one_multipart_files_part_per_file(adapter: SweatStackAdapter) -> None:
    route = respx.post(UPLOAD_URL).mock(
        return_value=httpx.Response(
            202,
            json={"sources": [_source("src_1", "ride.fit"), _source("src_2", "run.fit")]},
        )
    )
    files = [
        UploadedFile(filename="ride.fit", content=b"\x0e\x20ride-bytes"),
        UploadedFile(filename="run.fit", content=b"\x0e\x20run-bytes", content_type="x/fit"),
    ]

    assert await adapter.upload_files(CREDS, files) == ["src_1", "src_2"]

    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer token-abc"
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    body = request.content
    assert body.count(b'Content-Disposition: form-data; name="files"; filename=') == 2
    assert b'filename="ride.fit"' in body and b"\x0e\x20ride-bytes" in body
    assert b'filename="run.fit"' in body and b"Content-Type: x/fit" in body


@respx.mock
async def test_upload_422_is_rejected_by_sweatstack_with_its_detail(
    adapter: SweatStackAdapter,
) -> None:
    detail = [{"loc": ["body", "files", 0], "msg": "notes.txt is not a FIT file"}]
    respx.post(UPLOAD_URL).mock(return_value=httpx.Response(422, json={"detail": detail}))

    with pytest.raises(ProviderRejected, match=r"notes\.txt is not a FIT file") as caught:
        await adapter.upload_files(CREDS, [UploadedFile(filename="notes.txt", content=b"hi")])
    assert caught.value.provider == "sweatstack"
    assert caught.value.upstream_status == 422
    assert "sweatstack rejected" in caught.value.detail


@pytest.mark.parametrize(
    ("response", "error", "match"),
    [
        (httpx.Response(200, json={"sources": []}), ProviderError, "instead of 202"),
        (httpx.Response(202, json={"sources": []}), ProviderError, "0 sources for 1 files"),
        (httpx.Response(202, json={"sources": [{"id": 1}]}), ProviderError, "does not decode"),
        (httpx.Response(401, json={"detail": "Not authenticated"}), ProviderError, "credentials"),
        (httpx.Response(503, text="down"), ProviderError, "answered 503"),
    ],
)
@respx.mock
async def test_upload_failures_are_named(
    adapter: SweatStackAdapter, response: httpx.Response, error: type[Exception], match: str
) -> None:
    respx.post(UPLOAD_URL).mock(return_value=response)

    with pytest.raises(error, match=match) as caught:
        await adapter.upload_files(CREDS, [UploadedFile(filename="a.fit", content=b"x")])
    assert isinstance(caught.value, ProviderError) and caught.value.provider == "sweatstack"
    assert not isinstance(caught.value, ProviderRejected)


@respx.mock
async def test_upload_timeout_and_nothing_to_upload(adapter: SweatStackAdapter) -> None:
    route = respx.post(UPLOAD_URL).mock(side_effect=httpx.WriteTimeout("slow"))

    with pytest.raises(InvalidInput):
        await adapter.upload_files(CREDS, [])
    assert not route.called
    with pytest.raises(ProviderTimeout, match="sweatstack"):
        await adapter.upload_files(CREDS, [UploadedFile(filename="a.fit", content=b"x")])


# --- backfill status --------------------------------------------------------------------


def _ndjson(*lines: object) -> bytes:
    return b"".join(
        (line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines
    )


async def _collect(adapter: SweatStackAdapter) -> list[datetime | None]:
    return [moment async for moment in adapter.backfill_status(CREDS)]


@respx.mock
async def test_backfill_yields_each_loaded_until_skipping_blank_lines(
    adapter: SweatStackAdapter,
) -> None:
    body = _ndjson(
        {"backfill_loaded_until": None},
        {"backfill_loaded_until": "2024-03-01T10:00:00Z"},
        b"",
        b"   ",
        {"backfill_loaded_until": "2024-02-15T09:30:00+01:00"},
    )
    route = respx.get(BACKFILL_URL).mock(return_value=httpx.Response(200, content=body))

    assert await _collect(adapter) == [
        None,
        datetime(2024, 3, 1, 10, tzinfo=UTC),
        datetime(2024, 2, 15, 8, 30, tzinfo=UTC),
    ]
    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer token-abc"
    assert request.extensions["timeout"]["read"] is None  # the stream may wait between lines
    assert request.extensions["timeout"]["connect"] == 5


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ({"error": "backfill status unavailable"}, "backfill status unavailable"),
        ({"backfill_loaded_until": "2024-03-01T10:00:00"}, "does not decode"),  # naive
        (b'{"backfill_loaded_until": ', "does not decode"),
        ({"loaded": "2024-03-01T10:00:00Z"}, "does not decode"),
    ],
)
@respx.mock
async def test_backfill_error_or_bad_line_is_a_provider_error_after_the_good_ones(
    adapter: SweatStackAdapter, line: object, match: str
) -> None:
    body = _ndjson({"backfill_loaded_until": "2024-03-01T10:00:00Z"}, line)
    respx.get(BACKFILL_URL).mock(return_value=httpx.Response(200, content=body))

    seen: list[datetime | None] = []
    with pytest.raises(ProviderError, match=match) as caught:
        async for moment in adapter.backfill_status(CREDS):
            seen.append(moment)
    assert seen == [datetime(2024, 3, 1, 10, tzinfo=UTC)]
    assert caught.value.provider == "sweatstack"


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(401, json={"detail": "Not authenticated"}), ProviderError),
        (httpx.Response(500, json={"detail": "boom"}), ProviderError),
        (httpx.Response(404, json={"detail": "Not Found"}), NotFound),
    ],
)
@respx.mock
async def test_backfill_error_statuses_are_named(
    adapter: SweatStackAdapter, response: httpx.Response, error: type[Exception]
) -> None:
    respx.get(BACKFILL_URL).mock(return_value=response)

    with pytest.raises(error) as caught:
        await _collect(adapter)
    if isinstance(caught.value, ProviderError):
        assert caught.value.provider == "sweatstack"
        assert caught.value.upstream_status == response.status_code


@respx.mock
async def test_backfill_connection_failure_is_named(adapter: SweatStackAdapter) -> None:
    respx.get(BACKFILL_URL).mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(ProviderError, match="sweatstack could not be reached"):
        await _collect(adapter)


# --- segmentation ---------------------------------------------------------------------------


@respx.mock
async def test_segmented_data_asks_for_segmentation_on_and_reads_segments(
    adapter: SweatStackAdapter,
) -> None:
    streams = {"elapsed_s": np.arange(240), "power": np.repeat([150.0, 300.0], 120)}
    table = activity_table(START, streams, ["duration", "power"], segmentation_on="power")
    route = respx.get(DATA_URL).mock(return_value=_parquet(table))

    segments = await adapter.segmented_data(CREDS, "act_1", ["power"], "power")

    assert route.calls.last.request.url.params.multi_items() == [
        ("metrics", "duration"),
        ("metrics", "power"),
        ("segmentation_on", "power"),
    ]
    assert segments.column("duration").to_pylist() == [40.0] * 6  # runs of at most 50 s
    assert segments.column("power").to_pylist() == [150] * 3 + [300] * 3


async def test_segmented_data_on_heart_rate_is_refused_before_asking(
    adapter: SweatStackAdapter,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await adapter.segmented_data(CREDS, "act_1", ["power"], "heart_rate")
    assert caught.value.field == "segmentation_on"


@respx.mock
async def test_segmented_mean_max_asks_for_segmentation(adapter: SweatStackAdapter) -> None:
    elapsed = np.arange(600)
    curve = mean_max_table(START, elapsed, np.full(600, 200.0), "power", [1, 60], segmentation=True)
    route = respx.get(MEAN_MAX_URL).mock(return_value=_parquet(curve))

    points = await adapter.segmented_mean_max(CREDS, "act_1", "power", [1, 60])

    assert route.calls.last.request.url.params.multi_items() == [
        ("metric", "power"),
        ("durations", "1,60"),
        ("segmentation", "true"),
    ]
    assert [p.duration_s for p in points] == [1, 60]


# --- longitudinal mean-max -------------------------------------------------------------------

LONGITUDINAL_URL = f"{ACTIVITIES}longitudinal-mean-max"


def _longitudinal(**overrides: object) -> LongitudinalMeanMaxQuery:
    fields: dict[str, object] = {
        "sports": ("cycling", "running.road"),
        "start_date": date(2026, 4, 1),
        "end_date": date(2026, 5, 20),
        "metric": "power",
        "durations_s": (5, 60),
        "afters": (0.0, 250.0),
        "by": "duration",
        **overrides,
    }
    return LongitudinalMeanMaxQuery(**fields)  # type: ignore[arg-type]


@respx.mock
async def test_longitudinal_mean_max_sends_sweatstacks_query_and_reads_attributed_rows(
    adapter: SweatStackAdapter,
) -> None:
    table = pa.table(
        {
            "duration": pa.array([5, 60], pa.duration("s")),
            "power": pa.array([410.0, 320.5]),
            "start": pa.array([START, START], pa.timestamp("s", tz="UTC")),
            "activity_id": pa.array(["act_1", "act_2"]),
            "sport": pa.array(["cycling.road", "cycling"]).dictionary_encode(),
            "after": pa.array([250.0, 250.0]),
        }
    )
    route = respx.get(LONGITUDINAL_URL).mock(return_value=_parquet(table))

    rows = await adapter.longitudinal_mean_max(CREDS, _longitudinal())

    sent = route.calls.last.request
    assert sent.headers["authorization"] == "Bearer token-abc"
    assert sent.url.params.multi_items() == [
        ("start", "2026-04-01"), ("end", "2026-05-20"), ("sport", "cycling"),
        ("sport", "running.road"), ("metric", "power"), ("by", "duration"),
        ("durations", "5,60"), ("after", "0.0"), ("after", "250.0"),
    ]  # fmt: skip
    assert [(r.duration_s, r.value, r.native_id, r.sport, r.after) for r in rows] == [
        (5, 410.0, "act_1", "cycling.road", 250.0),
        (60, 320.5, "act_2", "cycling", 250.0),
    ]
    assert rows[0].start == START


@respx.mock
async def test_longitudinal_mean_max_of_another_shape_is_a_provider_error(
    adapter: SweatStackAdapter,
) -> None:
    table = pa.table({"duration": pa.array([5], pa.duration("s")), "power": pa.array([1.0])})
    respx.get(LONGITUDINAL_URL).mock(return_value=_parquet(table))

    with pytest.raises(ProviderError, match="without a 'start' column"):
        await adapter.longitudinal_mean_max(CREDS, _longitudinal(by="intensity"))
    with pytest.raises(InvalidInput):
        await adapter.longitudinal_mean_max(CREDS, _longitudinal(metric="heart_rate"))
