"""FIT activity files: decode what we write, map sports, refuse bad files naming them."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import anycrc
import numpy as np
import pyarrow as pa
import pytest
from garmin_fit_sdk import Encoder, Profile

from training_gateway.adapters._mock.synthetic import encode_fit, synthetic_activity
from training_gateway.gateway.errors import status_for
from training_gateway.models.errors import InvalidInput
from training_gateway.models.fit import FIT_EPOCH_S, MAX_FIT_BYTES, FitActivity, decode_fit
from training_gateway.models.timeseries import TIME_COLUMNS, TIMESERIES_COLUMNS

MESG = Profile["mesg_num"]
START = datetime(2024, 5, 10, 6, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def ride() -> FitActivity:
    return synthetic_activity(3600, sport="cycling.road", seed=1, name="3 x 10 min threshold")


@pytest.fixture(scope="module")
def ride_fit(ride: FitActivity) -> bytes:
    return encode_fit(ride)


@pytest.fixture(scope="module")
def run() -> FitActivity:
    return synthetic_activity(
        2400, sport="running.trail", seed=2, utc_offset_s=-4 * 3600, lap_s=1000
    )


def fit_seconds(moment: datetime) -> int:
    return round(moment.timestamp()) - FIT_EPOCH_S


def minimal_fit(*messages: dict[str, Any], file_type: int = 4) -> bytes:
    """A FIT file with a file id and the given SDK message dicts."""
    encoder = Encoder()
    encoder.write_mesg(
        {
            "mesg_num": MESG["FILE_ID"],
            "type": file_type,
            "manufacturer": 255,
            "time_created": fit_seconds(START),
        }
    )
    for message in messages:
        encoder.write_mesg(message)
    return encoder.close()


def session(sport: int = 2, sub_sport: int = 0, **fields: Any) -> dict[str, Any]:
    return {
        "mesg_num": MESG["SESSION"],
        "timestamp": fit_seconds(START) + 2400,
        "start_time": fit_seconds(START),
        "sport": sport,
        "sub_sport": sub_sport,
        **fields,
    }


# --- Round trips -------------------------------------------------------------------------------


def test_round_trip_keeps_the_summary(ride: FitActivity, ride_fit: bytes) -> None:
    summary = decode_fit(ride_fit, filename="ride.fit").summary
    written = ride.summary
    assert summary.sport == "cycling.road"
    assert summary.start == START and summary.start.tzinfo is not None
    assert summary.start_local == datetime(2024, 5, 10, 8, 30)  # UTC+2 from local_timestamp
    assert summary.elapsed_s == written.elapsed_s == 3600.0
    assert summary.timer_s == 3600.0
    assert summary.distance_m == pytest.approx(written.distance_m, abs=0.01)
    assert summary.name == "3 x 10 min threshold"
    assert len(summary.laps) == len(written.laps) == 6
    for got, want in zip(summary.laps, written.laps, strict=True):
        assert (got.start, got.end, got.duration_s) == (want.start, want.end, want.duration_s)
        assert got.start_local == want.start_local and got.end_local == want.end_local
        assert got.summary.power is not None and want.summary.power is not None
        assert (got.summary.power.mean, got.summary.power.max) == (
            want.summary.power.mean,
            want.summary.power.max,
        )
        assert got.summary.speed is not None and want.summary.speed is not None
        assert got.summary.speed.mean == pytest.approx(want.summary.speed.mean, abs=0.001)
    assert summary.extensions["fit_sport"] == 2


def test_round_trip_keeps_the_records(ride: FitActivity, ride_fit: bytes) -> None:
    records = decode_fit(ride_fit, filename="ride.fit").records
    written = ride.records
    assert records.schema.equals(written.schema)
    assert records.schema.names == [
        *TIME_COLUMNS,
        *(c for c in TIMESERIES_COLUMNS if c not in TIME_COLUMNS),
    ]
    assert records.num_rows == 3600
    for exact in ("timestamp", "timestamp_local", "duration", "heart_rate", "power", "cadence"):
        assert records.column(exact).equals(written.column(exact)), exact
    # FIT stores these scaled: speed in mm/s, distance in cm, altitude in 0.2 m, positions in
    # semicircles (8.4e-8 degrees).
    for column, resolution in (
        ("speed", 0.001),
        ("distance", 0.01),
        ("altitude", 0.2),
        ("latitude", 1e-7),
        ("longitude", 1e-7),
    ):
        got = records.column(column).to_numpy(zero_copy_only=False)
        want = written.column(column).to_numpy(zero_copy_only=False)
        assert np.array_equal(np.isnan(got), np.isnan(want)), column  # dropouts stay dropouts
        np.testing.assert_allclose(got, want, atol=resolution, rtol=0, err_msg=column)
    assert records.column("heart_rate").null_count > 0


def test_round_trip_of_a_run_west_of_utc(run: FitActivity) -> None:
    decoded = decode_fit(encode_fit(run), filename="run.fit")
    assert decoded.summary.sport == "running.trail"
    assert decoded.summary.start_local == datetime(2024, 5, 10, 2, 30)
    assert len(decoded.summary.laps) == 3 and decoded.summary.laps[-1].duration_s == 400.0
    local = decoded.records.column("timestamp_local").cast(pa.int64()).to_numpy()
    utc = decoded.records.column("timestamp").cast(pa.int64()).to_numpy()
    assert (utc - local == 4 * 3600 * 1000).all()
    assert decoded.records.column("cadence").equals(run.records.column("cadence"))


def test_without_a_local_clock_there_is_no_local_time() -> None:
    activity = synthetic_activity(300, seed=4, utc_offset_s=None)
    decoded = decode_fit(encode_fit(activity), filename="no-local.fit")
    assert decoded.summary.start_local is None
    assert "timestamp_local" not in decoded.records.column_names
    assert all(lap.start_local is None for lap in decoded.summary.laps)


# --- Sports ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sport", "sub_sport", "expected"),
    [
        (2, 0, "cycling.road"),  # the taxonomy reads generic FIT cycling as road cycling
        (2, 7, "cycling.road"),
        (2, 8, "cycling.mountain"),
        (2, 6, "cycling+stationary"),
        (2, 58, "cycling+stationary+virtual"),
        (1, 0, "running.road"),
        (1, 3, "running.trail"),
        (1, 1, "running+stationary"),
        (5, 17, "swimming.pool"),
        (4, 14, "rowing+stationary"),
        (11, 0, "walking"),
        (0, 0, "generic"),
        (254, 0, "generic"),  # a sport the taxonomy does not know
    ],
)
def test_fit_sports_map_to_open_sport_taxonomy(sport: int, sub_sport: int, expected: str) -> None:
    data = minimal_fit(session(sport, sub_sport, total_elapsed_time=2400.0))
    summary = decode_fit(data, filename="sport.fit").summary
    assert summary.sport == expected
    assert summary.extensions["fit_sport"] == sport


@pytest.mark.parametrize(
    "sport", ["cycling.gravel", "running.trail", "xc_skiing.skate", "rowing+stationary"]
)
def test_written_sports_read_back(sport: str) -> None:
    activity = synthetic_activity(120, sport=sport, seed=5)
    assert decode_fit(encode_fit(activity), filename="sport.fit").summary.sport == sport


# --- Unusual but valid files -------------------------------------------------------------------


def test_a_file_with_no_records_decodes_to_a_summary_and_an_empty_table() -> None:
    data = minimal_fit(
        session(1, 0, total_elapsed_time=2400.0, total_timer_time=2400.0, total_distance=4000.0),
        {
            "mesg_num": MESG["ACTIVITY"],
            "timestamp": fit_seconds(START) + 2400,
            "local_timestamp": fit_seconds(START) + 2400 + 3600,
            "num_sessions": 1,
        },
    )
    decoded = decode_fit(data, filename="no-records.fit")
    assert decoded.summary.sport == "running.road"
    assert decoded.summary.start == START
    assert decoded.summary.start_local == datetime(2024, 5, 10, 7, 30)
    assert (decoded.summary.elapsed_s, decoded.summary.distance_m) == (2400.0, 4000.0)
    assert decoded.records.num_rows == 0
    assert decoded.records.column_names == list(TIME_COLUMNS)


def test_developer_fields_decode_and_are_named() -> None:
    developer = {
        "mesg_num": MESG["DEVELOPER_DATA_ID"],
        "developer_data_index": 0,
        "application_id": list(range(16)),
        "application_version": 1,
    }
    description = {
        "mesg_num": MESG["FIELD_DESCRIPTION"],
        "developer_data_index": 0,
        "field_definition_number": 0,
        "fit_base_type_id": 136,  # float32
        "field_name": "core_temperature",
        "units": "C",
        "native_mesg_num": MESG["RECORD"],
    }
    encoder = Encoder()
    encoder.add_developer_field(0, developer, description)  # type: ignore[arg-type]
    encoder.write_mesg({"mesg_num": MESG["FILE_ID"], "type": 4, "manufacturer": 255})
    encoder.write_mesg(developer).write_mesg(description)
    for second in range(10):
        encoder.write_mesg(
            {
                "mesg_num": MESG["RECORD"],
                "timestamp": fit_seconds(START) + second,
                "heart_rate": 120 + second,
                "developer_fields": {0: 37.5 + second / 10},
            }
        )
    encoder.write_mesg(session(1, 0, total_elapsed_time=10.0))
    decoded = decode_fit(encoder.close(), filename="core.fit")
    assert decoded.records.column("heart_rate").to_pylist() == list(range(120, 130))
    assert decoded.records.column("duration").to_pylist() == [float(s) for s in range(10)]
    assert decoded.summary.extensions["developer_fields"] == ["core_temperature"]


def with_unknown_message(data: bytes) -> bytes:
    """`data` with a manufacturer-specific message (global number 0xFF10) before its CRC."""
    header_size = data[0]
    definition = struct.pack("<BBBHB", 0x4F, 0, 0, 0xFF10, 1) + bytes([1, 2, 0x84])
    message = struct.pack("<BH", 0x0F, 4242)
    body = data[header_size:-2] + definition + message
    header = bytearray(data[:header_size])
    header[4:8] = struct.pack("<I", len(body))
    crc16 = anycrc.Model("CRC16-ARC")
    if header_size == 14:
        header[12:14] = struct.pack("<H", crc16.calc(bytes(header[:12])))
    file = bytes(header) + body
    return file + struct.pack("<H", crc16.calc(file))


def test_unknown_messages_are_skipped(ride_fit: bytes) -> None:
    decoded = decode_fit(with_unknown_message(ride_fit), filename="vendor.fit")
    assert decoded.records.num_rows == 3600
    assert decoded.summary.sport == "cycling.road"


# --- Refusals ----------------------------------------------------------------------------------


def corrupt(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x40]) + data[middle + 1 :]


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("empty", "empty"),
        ("not-fit", "not a FIT file"),
        ("corrupt", "CRC"),
        ("truncated", "truncated"),
        ("too-large", "25 MiB"),
        ("course", "not an activity file"),
        ("nothing", "no activity"),
    ],
)
def test_bad_files_are_refused_naming_the_file(ride_fit: bytes, case: str, reason: str) -> None:
    data = {
        "empty": lambda: b"",
        "not-fit": lambda: b'<?xml version="1.0"?><gpx version="1.1"></gpx>',
        "corrupt": lambda: corrupt(ride_fit),
        "truncated": lambda: ride_fit[: len(ride_fit) - 500],
        "too-large": lambda: ride_fit + bytes(MAX_FIT_BYTES),
        "course": lambda: minimal_fit(file_type=6),
        "nothing": lambda: minimal_fit(),
    }[case]()
    filename = f"Morning {case} ride.fit"
    with pytest.raises(InvalidInput) as refused:
        decode_fit(data, filename=filename)
    assert refused.value.field == filename
    assert reason in refused.value.detail
    assert status_for(refused.value) == 422


def test_max_size_is_25_mib() -> None:
    assert MAX_FIT_BYTES == 25 * 1024 * 1024


def test_records_are_timed_from_the_session_start() -> None:
    late = fit_seconds(START) + 5
    data = minimal_fit(
        {"mesg_num": MESG["RECORD"], "timestamp": late, "power": 250},
        {"mesg_num": MESG["RECORD"], "timestamp": late + 2, "power": 260},
        session(2, 0, total_elapsed_time=60.0),
    )
    records = decode_fit(data, filename="late.fit").records
    assert records.column("duration").to_pylist() == [5.0, 7.0]
    assert records.column("timestamp").to_pylist()[0] == START + timedelta(seconds=5)
