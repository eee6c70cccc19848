"""The mock's FIT uploads over loopback: 202 with a source per file, the documented limits, the
background processing into activities, and activities recorded from a decoded file."""

from __future__ import annotations

import importlib.util
import io
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sweatstack
from sweatstack.schemas import SourceResponse

from training_gateway.adapters._mock import TokenIssuer, serve_mock
from training_gateway.adapters.sweatstack import wire
from training_gateway.adapters.sweatstack.client import decode_details
from training_gateway.adapters.sweatstack.mock import StoredSource, SweatStackMock, is_fit
from training_gateway.models.mean_max import mean_max_reference, on_one_hz_grid
from training_gateway.models.timeseries import conform

from .conftest import SEED, TODAY
from .fit_files import Sample, activity_fit, not_fit, steady_ride

LIST = "/api/v1/activities/"
UPLOAD = "/api/v1/activities/upload"
START = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))

needs_fit_decoder = pytest.mark.skipif(
    importlib.util.find_spec("training_gateway.models.fit") is None,
    reason="models.fit.decode_fit is not in the tree yet (another engineer is writing it); "
    "processing an upload needs it",
)


@pytest.fixture(scope="module")
def served(issuer: TokenIssuer) -> Iterator[tuple[SweatStackMock, str]]:
    """A mock the tests of this module upload to (their uploads do not overlap)."""
    mock = SweatStackMock(SEED, today=TODAY, tokens=issuer)
    with serve_mock(mock.asgi_app()) as server:
        yield mock, server.url


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def _upload(
    http: httpx.Client,
    served: tuple[SweatStackMock, str],
    files: Sequence[tuple[str, bytes]],
    *,
    field: str = "files",
) -> httpx.Response:
    mock, url = served
    return http.post(
        url + UPLOAD,
        files=[(field, (name, content)) for name, content in files],
        headers={"Authorization": f"Bearer {mock.token_for()}"},
    )


def _ride_fit(seconds: int = 90) -> bytes:
    return activity_fit(START, steady_ride(seconds))


def _settled(mock: SweatStackMock, source_id: str, timeout_s: float = 10.0) -> StoredSource:
    """The source once its background processing is over."""
    deadline = time.monotonic() + timeout_s
    while mock.sources[source_id].status == "processing":
        assert time.monotonic() < deadline, "the upload was never processed"
        time.sleep(0.01)
    return mock.sources[source_id]


# --- accepting --------------------------------------------------------------------------


def test_fit_files_are_recognised_by_their_header() -> None:
    assert is_fit(_ride_fit())
    assert not is_fit(not_fit())
    assert not is_fit(b"")
    assert not is_fit(b"\x0e\x20\x00\x00\x00\x00\x00\x00.GPX\x00\x00")


def test_upload_answers_202_with_a_processing_source_per_file(
    http: httpx.Client, served: tuple[SweatStackMock, str]
) -> None:
    mock, _ = served
    response = _upload(http, served, [("ride.fit", _ride_fit()), ("again.fit", _ride_fit(30))])

    assert response.status_code == 202, response.text
    sources = msgspec.json.decode(response.content, type=wire.UploadResponse, strict=True).sources
    assert [source.filename for source in sources] == ["ride.fit", "again.fit"]
    assert len({source.id for source in sources}) == 2
    for source in sources:
        assert source.id.startswith("src_")
        assert (source.type, source.origin, source.status) == ("fit", "manual_upload", "processing")
        assert source.activity_ids == [] and source.error is None
        assert source.created_at.utcoffset() == timedelta(0)
        assert abs(datetime.now(UTC) - source.created_at) < timedelta(minutes=1)
        assert mock.sources[source.id].user_id == mock.default_user
    assert response.json()["sources"][0]["created_at"].endswith("Z")


def test_ten_files_are_accepted_and_eleven_refused(
    http: httpx.Client, served: tuple[SweatStackMock, str]
) -> None:
    mock, _ = served
    fit = _ride_fit(5)
    before = len(mock.sources)

    refused = _upload(http, served, [(f"{index}.fit", fit) for index in range(11)])
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["loc"] == ["body", "files"] and "at most 10" in error["msg"]
    assert len(mock.sources) == before

    accepted = _upload(http, served, [(f"{index}.fit", fit) for index in range(10)])
    assert accepted.status_code == 202
    assert len(accepted.json()["sources"]) == 10


def test_a_file_that_is_not_fit_is_422_naming_it_and_nothing_is_accepted(
    http: httpx.Client, served: tuple[SweatStackMock, str]
) -> None:
    mock, _ = served
    before = len(mock.sources)

    response = _upload(
        http,
        served,
        [("ride.fit", _ride_fit()), ("morning.gpx", not_fit()), ("fake.fit", b"not a fit file")],
    )

    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [error["loc"] for error in errors] == [["body", "files", 1], ["body", "files", 2]]
    assert "morning.gpx is not a FIT file" in errors[0]["msg"]
    assert "fake.fit is not a FIT file" in errors[1]["msg"]
    assert len(mock.sources) == before


def test_an_upload_without_files_is_422_and_without_a_token_401(
    http: httpx.Client, served: tuple[SweatStackMock, str]
) -> None:
    _, url = served
    wrong_field = _upload(http, served, [("ride.fit", _ride_fit())], field="file")
    anonymous = http.post(url + UPLOAD, files=[("files", ("ride.fit", _ride_fit()))])

    assert wrong_field.status_code == 422
    assert wrong_field.json()["detail"][0]["loc"] == ["body", "files"]
    assert anonymous.status_code == 401


def test_the_official_client_uploads_and_reads_the_sources(
    served: tuple[SweatStackMock, str], tmp_path: Path
) -> None:
    mock, url = served
    paths = [tmp_path / "ride.fit", tmp_path / "run.fit"]
    for path in paths:
        path.write_bytes(_ride_fit(20))
    client = sweatstack.Client(
        api_key=mock.token_for(), url=url, ambient_credentials=False, max_retries=0
    )

    sources = client.activities.upload(paths)

    assert all(isinstance(source, SourceResponse) for source in sources)
    assert [source.filename for source in sources] == ["ride.fit", "run.fit"]
    assert {source.status for source in sources} == {"processing"}
    assert all(source.id in mock.sources for source in sources)


# --- processing -------------------------------------------------------------------------


@needs_fit_decoder
def test_an_uploaded_fit_becomes_an_activity_with_its_samples(
    http: httpx.Client, served: tuple[SweatStackMock, str]
) -> None:
    mock, url = served
    samples = steady_ride(120)
    response = _upload(http, served, [("ride.fit", activity_fit(START, samples))])
    (source_id,) = [source["id"] for source in response.json()["sources"]]

    source = _settled(mock, source_id)

    assert source.status == "processed", source.error
    (activity_id,) = source.activity_ids
    assert mock.source_response(source_id).activity_ids == [activity_id]
    headers = {"Authorization": f"Bearer {mock.token_for()}"}
    details = decode_details(http.get(f"{url}{LIST}{activity_id}", headers=headers).content)
    assert details.source_id == source_id
    assert str(details.sport).startswith("cycling")
    assert details.start == START and details.start.utcoffset() == timedelta(hours=2)
    assert details.duration == timedelta(seconds=120)
    assert {"power", "heart_rate", "speed"} <= set(details.metrics)
    data = pq.read_table(
        io.BytesIO(
            http.get(
                f"{url}{LIST}{activity_id}/data",
                params={"metrics": "duration,power,heart_rate"},
                headers=headers,
            ).content
        )
    )
    assert data.num_rows == 120
    assert data.column("heart_rate").to_pylist() == [s.heart_rate for s in samples]
    assert data.column("power").to_pylist() == [s.power for s in samples]  # dropouts stay null


@needs_fit_decoder
def test_a_fit_that_does_not_decode_fails_naming_the_file(
    http: httpx.Client, served: tuple[SweatStackMock, str]
) -> None:
    mock, _ = served
    broken = _ride_fit()[:14] + b"\x00" * 40  # a FIT header over garbage
    response = _upload(http, served, [("broken.fit", broken)])
    (source_id,) = [source["id"] for source in response.json()["sources"]]

    source = _settled(mock, source_id)

    assert source.status == "failed" and source.activity_ids == []
    assert source.error is not None and source.error.code == "invalid_file"


# --- recorded activities ----------------------------------------------------------------


@dataclass(frozen=True)
class DecodedSummary:
    """The summary fields the mock takes from `models.fit.decode_fit`."""

    sport: str
    start: datetime
    start_local: datetime | None
    elapsed_s: float
    distance_m: float | None
    name: str | None = None


def _records(start: datetime, seconds: Sequence[int], samples: Sequence[Sample]) -> pa.Table:
    """Samples at `seconds` after `start` as a unified records table (CEST wall clock)."""
    stamps = [start + timedelta(seconds=second) for second in seconds]
    return conform(
        pa.table(
            {
                "timestamp": pa.array(stamps, pa.timestamp("ms", tz="UTC")),
                "timestamp_local": pa.array(
                    [stamp.astimezone(CEST).replace(tzinfo=None) for stamp in stamps],
                    pa.timestamp("ms"),
                ),
                "duration": pa.array([float(second) for second in seconds]),
                "heart_rate": [s.heart_rate for s in samples],
                "power": [s.power for s in samples],
                "speed": [s.speed_mps for s in samples],
                "distance": [s.distance_m for s in samples],
                "latitude": [s.latitude for s in samples],
                "longitude": [s.longitude for s in samples],
            }
        )
    )


def test_a_recorded_activity_serves_its_samples_gaps_and_nulls(
    fresh_server: tuple[SweatStackMock, str], http: httpx.Client
) -> None:
    mock, url = fresh_server
    seconds = [*range(60), *range(75, 135)]  # paused for 15 s
    samples = steady_ride(135)
    kept = [samples[second] for second in seconds]
    summary = DecodedSummary(
        sport="cycling.road",
        start=START,
        start_local=None,  # the records' wall clock gives the offset
        elapsed_s=135.0,
        distance_m=1234.5,
        name="Lunch ride",
    )

    stored = mock.add_recording(summary, _records(START, seconds, kept), source_id="src_x")

    headers = {"Authorization": f"Bearer {mock.token_for()}"}
    details = decode_details(http.get(f"{url}{LIST}{stored.id}", headers=headers).content)
    assert details.start == START and details.start.utcoffset() == timedelta(hours=2)
    assert details.start_local == datetime(2026, 5, 1, 8, 0)
    assert details.duration == timedelta(seconds=135)
    assert details.distance == 1234.5 and details.source_id == "src_x"
    assert details.metrics == ["power", "speed", "heart_rate", "distance", "latitude", "longitude"]
    assert details.laps == [] and details.summary is not None
    assert details.summary.power is not None
    assert details.summary.power.max == 320.0  # the dropouts are not zeros in the summary

    data = pq.read_table(
        io.BytesIO(
            http.get(
                f"{url}{LIST}{stored.id}/data",
                params=[("metrics", "duration"), ("metrics", "power")],
                headers=headers,
            ).content
        )
    )
    assert [d.total_seconds() for d in data.column("duration").to_pylist()] == seconds
    assert data.column("power").to_pylist() == [s.power for s in kept]
    assert data.column("timestamp").to_pylist()[60] == START + timedelta(seconds=75)

    curve = pq.read_table(
        io.BytesIO(
            http.get(
                f"{url}{LIST}{stored.id}/mean-max",
                params={"metric": "power", "durations": "1,30,60,120,135,136"},
                headers=headers,
            ).content
        )
    )
    power = np.array([np.nan if s.power is None else s.power for s in kept], dtype=float)
    grid = on_one_hz_grid(np.array(seconds), power, "power")
    best, where = mean_max_reference(grid, np.array([1, 30, 60, 120, 135]))
    assert curve.column("power").to_pylist() == best.tolist()
    assert curve.column("start").to_pylist() == [
        START + timedelta(seconds=int(index)) for index in where
    ]
    assert best[-1] == pytest.approx(np.nansum(power) / 135)  # the pause counts as 0 W


def test_a_recording_without_samples_has_an_empty_data_table(
    fresh_server: tuple[SweatStackMock, str], http: httpx.Client
) -> None:
    mock, url = fresh_server
    summary = DecodedSummary(
        sport="running", start=START, start_local=datetime(2026, 5, 1, 8), elapsed_s=2400.0,
        distance_m=4000.0,
    )  # fmt: skip

    stored = mock.add_recording(summary, _records(START, [], []))

    headers = {"Authorization": f"Bearer {mock.token_for()}"}
    details = decode_details(http.get(f"{url}{LIST}{stored.id}", headers=headers).content)
    assert details.metrics == [] and details.distance == 4000.0
    assert details.start.utcoffset() == timedelta(hours=2)
    data = pq.read_table(
        io.BytesIO(http.get(f"{url}{LIST}{stored.id}/data", headers=headers).content)
    )
    assert data.num_rows == 0
    assert data.column_names == ["timestamp", "timestamp_local", "duration"]
