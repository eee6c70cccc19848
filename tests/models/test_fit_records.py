"""Records read in fixed-stride runs (models.fit_records) give exactly what Garmin's SDK gives:
on generated activities, and on FIT files written byte by byte with what devices do (several
local definitions, big-endian ones, developer fields, invalid values, records without a
timestamp, both speed fields, other messages between records), and those the reader leaves
to the SDK (compressed timestamps, `hr` messages, arrays, floats, chained files)."""

from __future__ import annotations

import struct
from typing import Any
from unittest import mock

import anycrc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from training_gateway.adapters._mock.synthetic import encode_fit, synthetic_activity
from training_gateway.models import fit
from training_gateway.models.errors import InvalidInput
from training_gateway.models.fit_records import FIELDS, split_records

CRC = anycrc.Model("CRC16-ARC")
# base type byte, struct code, invalid value
UINT8, SINT8, UINT16, SINT16, UINT32, SINT32 = 0x02, 0x01, 0x84, 0x83, 0x86, 0x85
UINT8Z, UINT16Z, UINT32Z, ENUM, FLOAT32 = 0x0A, 0x8B, 0x8C, 0x00, 0x88
CODES = {
    UINT8: ("B", 0xFF),
    SINT8: ("b", 0x7F),
    UINT16: ("H", 0xFFFF),
    SINT16: ("h", 0x7FFF),
    UINT32: ("I", 0xFFFFFFFF),
    SINT32: ("i", 0x7FFFFFFF),
    UINT8Z: ("B", 0),
    UINT16Z: ("H", 0),
    UINT32Z: ("I", 0),
    ENUM: ("B", 0xFF),
}
# The record fields as devices write them; each may also be written with another base type.
RECORD_TYPES = {
    "timestamp": UINT32,
    "position_lat": SINT32,
    "position_long": SINT32,
    "altitude": UINT16,
    "heart_rate": UINT8,
    "cadence": UINT8,
    "distance": UINT32,
    "speed": UINT16,
    "power": UINT16,
    "enhanced_speed": UINT32,
    "enhanced_altitude": UINT32,
}
START_S = 1_100_000_000  # FIT seconds, 2024


def both(data: bytes) -> fit.FitActivity | str:
    """decode_fit's answer, checked equal to the SDK's alone (an error's text, too)."""

    def decode() -> fit.FitActivity | str:
        try:
            return fit.decode_fit(data, filename="x.fit")
        except InvalidInput as exc:
            return exc.detail

    fast = decode()
    with mock.patch.object(fit, "split_records", lambda _data: None):
        sdk = decode()
    if isinstance(fast, str) or isinstance(sdk, str):
        assert fast == sdk
    else:
        assert fast.summary == sdk.summary
        assert fast.records.schema == sdk.records.schema
        assert fast.records.equals(sdk.records), (fast.records.slice(0, 5), sdk.records.slice(0, 5))
    return fast


class Writer:
    """A FIT file, message by message."""

    def __init__(self) -> None:
        self.body = bytearray()
        self.layouts: dict[int, tuple[str, list[tuple[int, int]], int]] = {}

    def define(
        self,
        local: int,
        global_number: int,
        fields: list[tuple[int, int, int]],  # number, size, base type
        *,
        big: bool = False,
        developer: list[int] = (),  # type: ignore[assignment]
    ) -> None:
        header = 0x40 | local | (0x20 if developer else 0)
        order = ">" if big else "<"
        self.body += bytes([header, 0, int(big)]) + struct.pack(order + "H", global_number)
        self.body += bytes([len(fields)])
        for number, size, base in fields:
            self.body += bytes([number, size, base])
        if developer:
            self.body += bytes([len(developer)])
            for k, size in enumerate(developer):
                self.body += bytes([k, size, 0])
        self.layouts[local] = (order, [(size, base) for _n, size, base in fields], sum(developer))

    def data(self, local: int, values: list[Any], *, header: int | None = None) -> None:
        order, layout, developer = self.layouts[local]
        self.body += bytes([local if header is None else header])
        for (size, base), value in zip(layout, values, strict=True):
            code, _invalid = CODES.get(base, ("B", 0xFF))
            count = size // struct.calcsize(code)
            if base == FLOAT32:
                self.body += struct.pack(order + "f", value)
            elif count > 1:
                self.body += struct.pack(order + code * count, *([value] * count))
            else:
                self.body += struct.pack(order + code, value)
        self.body += bytes(developer)

    def file(self) -> bytes:
        header = bytearray(struct.pack("<BBHI4s", 14, 0x20, 2132, len(self.body), b".FIT"))
        header += struct.pack("<H", CRC.calc(bytes(header)))
        data = bytes(header) + bytes(self.body)
        return data + struct.pack("<H", CRC.calc(data))


def with_file_id(writer: Writer) -> Writer:
    writer.define(15, 0, [(0, 1, ENUM), (1, 2, UINT16), (4, 4, UINT32)])
    writer.data(15, [4, 255, START_S])
    return writer


@pytest.mark.parametrize(
    ("duration_s", "sport", "utc_offset_s"),
    [(3600, "cycling.road", None), (2400, "running.trail", -4 * 3600), (5400, "cycling", 3600)],
)
def test_generated_activities_decode_as_the_sdk_decodes_them(
    duration_s: int, sport: str, utc_offset_s: int | None
) -> None:
    extra = {} if utc_offset_s is None else {"utc_offset_s": utc_offset_s}
    data = encode_fit(synthetic_activity(duration_s, sport=sport, seed=3, **extra))
    assert split_records(data) is not None  # the fast path was taken
    decoded = both(data)
    assert not isinstance(decoded, str) and decoded.records.num_rows == duration_s


field_names = st.sampled_from(sorted(FIELDS))
definitions = st.lists(field_names, min_size=1, max_size=len(FIELDS), unique=True)


@st.composite
def record_files(draw: st.DrawFn) -> bytes:
    writer = with_file_id(Writer())
    layouts: dict[int, list[tuple[str, int]]] = {}
    clock = START_S
    for _segment in range(draw(st.integers(1, 4))):
        local = draw(st.integers(0, 3))
        names = draw(definitions)
        types = [
            (name, draw(st.sampled_from([RECORD_TYPES[name], UINT16Z, UINT8Z, SINT16])))
            for name in names
        ]
        writer.define(
            local,
            20,
            [(FIELDS[name][0], struct.calcsize(CODES[base][0]), base) for name, base in types],
            big=draw(st.booleans()),
            developer=draw(st.lists(st.integers(1, 4), max_size=2)),
        )
        layouts[local] = types
        for _record in range(draw(st.integers(0, 40))):
            values = []
            for name, base in types:
                code, invalid = CODES[base]
                bits = 8 * struct.calcsize(code)
                low, high = (
                    (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
                    if code.islower()
                    else (0, 2**bits - 1)
                )
                if name == "timestamp" and code in "Ii":
                    clock += draw(st.integers(0, 3))
                    values.append(invalid if draw(st.integers(0, 20)) == 0 else clock)
                else:
                    values.append(draw(st.one_of(st.just(invalid), st.integers(low, high))))
            writer.data(local, values)
            if draw(st.integers(0, 15)) == 0:  # an event message between records
                writer.define(9, 21, [(253, 4, UINT32), (0, 1, ENUM), (1, 1, ENUM)])
                writer.data(9, [clock, 0, draw(st.integers(0, 4))])
    return writer.file()


@given(record_files())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_written_records_decode_as_the_sdk_decodes_them(data: bytes) -> None:
    both(data)


def _ride(*, header: int | None = None, hr: bool = False, array: bool = False) -> bytes:
    writer = with_file_id(Writer())
    heart_rate = (3, 2 if array else 1, UINT8)
    writer.define(0, 20, [(253, 4, UINT32), heart_rate, (7, 2, UINT16)])
    for second in range(30):
        writer.data(0, [START_S + second, 140 + second % 5, 200 + second])
    if header is not None:
        writer.data(0, [START_S + 30, 150, 210], header=header)
    if hr:
        writer.define(1, 132, [(253, 4, UINT32), (6, 1, UINT8)])
        writer.data(1, [START_S + 5, 150])
    return writer.file()


@pytest.mark.parametrize(
    "kind",
    ["compressed timestamp", "hr messages", "array", "float", "chained", "unknown local type"],
)
def test_what_the_reader_leaves_to_the_sdk_decodes_as_the_sdk_decodes_it(kind: str) -> None:
    if kind == "compressed timestamp":
        data = _ride(header=0x80 | 5)
    elif kind == "hr messages":
        data = _ride(hr=True)
    elif kind == "array":
        data = _ride(array=True)
    elif kind == "float":
        writer = with_file_id(Writer())
        writer.define(0, 20, [(253, 4, UINT32), (7, 4, FLOAT32)])
        for second in range(10):
            writer.data(0, [START_S + second, 250.5])
        data = writer.file()
    elif kind == "chained":
        data = _ride() + _ride()
    else:
        data = _ride(header=7)  # no definition for local type 7
    assert split_records(data) is None
    both(data)


def test_the_plain_speed_wins_over_the_enhanced_one_as_in_the_sdk() -> None:
    writer = with_file_id(Writer())
    writer.define(0, 20, [(253, 4, UINT32), (6, 2, UINT16), (73, 4, UINT32)])
    writer.data(0, [START_S, 3000, 9000])  # both: the SDK expands speed over enhanced_speed
    writer.data(0, [START_S + 1, 0xFFFF, 4500])  # no speed: the enhanced one
    writer.data(0, [START_S + 2, 0xFFFF, 0xFFFFFFFF])  # neither
    decoded = both(writer.file())
    assert not isinstance(decoded, str)
    assert decoded.records.column("speed").to_pylist() == [3.0, 4.5, None]


def test_what_devices_write_is_read_in_runs() -> None:
    """Two local definitions (one big-endian, with developer fields), invalid values, a record
    without a timestamp and event messages between runs: read in runs, as the SDK reads it."""
    writer = with_file_id(Writer())
    plain = [(253, 4, UINT32), (3, 1, UINT8), (7, 2, UINT16), (6, 2, UINT16), (5, 4, UINT32)]
    writer.define(0, 20, plain)
    writer.define(1, 20, [*plain, (0, 4, SINT32), (1, 4, SINT32)], big=True, developer=[2, 1])
    writer.define(2, 21, [(253, 4, UINT32), (0, 1, ENUM), (1, 1, ENUM)])
    for second in range(120):
        stamp = 0xFFFFFFFF if second == 7 else START_S + second
        power = 0xFFFF if second % 11 == 0 else 180 + second
        if second < 60:
            writer.data(0, [stamp, 0xFF if second == 3 else 140, power, 8000, 100 * second])
        else:
            writer.data(1, [stamp, 150, power, 8100, 100 * second, 715_827_882, -1_431_655_765])
        if second % 40 == 39:
            writer.data(2, [START_S + second, 0, 4])
    data = writer.file()
    records = split_records(data)
    assert records is not None and records.count == 120
    decoded = both(data)
    assert not isinstance(decoded, str)
    assert decoded.records.num_rows == 119  # the record without a timestamp is left out
    assert decoded.records.column("latitude").null_count == 59
    assert decoded.records.column("heart_rate").null_count == 1
