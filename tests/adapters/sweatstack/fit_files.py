"""Small, valid FIT activity files for upload tests, written from scratch (FIT protocol 2.0).

Only what an activity needs: `file_id`, one `record` per sample, a `session` and an
`activity` (whose `local_timestamp` carries the athlete's offset). Samples are 1 Hz from
`start`; a None value is written as the field's invalid value, as devices do.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
SPORT_CODES = {"running": 1, "cycling": 2}

_CRC_TABLE = (
    0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
    0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
)  # fmt: skip

# (field number, struct format, FIT base type) per message; the struct formats are little endian.
_FILE_ID = ((0, "B", 0x00), (1, "H", 0x84), (4, "I", 0x86))
_RECORD = (
    (253, "I", 0x86),  # timestamp, s since the FIT epoch
    (0, "i", 0x85),  # position_lat, semicircles
    (1, "i", 0x85),  # position_long, semicircles
    (2, "H", 0x84),  # altitude, (m + 500) * 5
    (3, "B", 0x02),  # heart_rate, bpm
    (4, "B", 0x02),  # cadence, rpm
    (5, "I", 0x86),  # distance, cm
    (6, "H", 0x84),  # speed, mm/s
    (7, "H", 0x84),  # power, W
)
_SESSION = (
    (253, "I", 0x86),
    (2, "I", 0x86),  # start_time
    (7, "I", 0x86),  # total_elapsed_time, ms
    (8, "I", 0x86),  # total_timer_time, ms
    (9, "I", 0x86),  # total_distance, cm
    (5, "B", 0x00),  # sport
    (6, "B", 0x00),  # sub_sport
)
_ACTIVITY = (
    (253, "I", 0x86),
    (0, "I", 0x86),  # total_timer_time, ms
    (1, "H", 0x84),  # num_sessions
    (2, "B", 0x00),  # type: manual
    (3, "B", 0x00),  # event: activity
    (4, "B", 0x00),  # event_type: stop
    (5, "I", 0x86),  # local_timestamp, local wall clock s since the FIT epoch
)
_INVALID = {"B": 0xFF, "H": 0xFFFF, "I": 0xFFFFFFFF, "i": 0x7FFFFFFF}


def fit_crc(data: bytes, crc: int = 0) -> int:
    """The FIT CRC-16 of `data`."""
    for byte in data:
        for nibble in (byte & 0x0F, byte >> 4):
            tmp = _CRC_TABLE[crc & 0x0F]
            crc = ((crc >> 4) & 0x0FFF) ^ tmp ^ _CRC_TABLE[nibble]
    return crc


def _fit_time(moment: datetime) -> int:
    return int((moment - FIT_EPOCH).total_seconds())


def _definition(local: int, global_number: int, fields: Sequence[tuple[int, str, int]]) -> bytes:
    head = struct.pack("<BBBHB", 0x40 | local, 0, 0, global_number, len(fields))
    return head + b"".join(
        struct.pack("<BBB", number, struct.calcsize(kind), base) for number, kind, base in fields
    )


def _data(
    local: int, fields: Sequence[tuple[int, str, int]], values: Sequence[int | None]
) -> bytes:
    packed = (
        struct.pack("<" + kind, _INVALID[kind] if value is None else value)
        for (_, kind, _), value in zip(fields, values, strict=True)
    )
    return bytes([local]) + b"".join(packed)


@dataclass(frozen=True)
class Sample:
    """One 1 Hz sample; None where the device recorded nothing."""

    heart_rate: int | None = None
    power: int | None = None
    cadence: int | None = None
    speed_mps: float | None = None
    distance_m: float | None = None
    altitude_m: float | None = None
    latitude: float | None = None
    longitude: float | None = None


def _semicircles(degrees: float | None) -> int | None:
    return None if degrees is None else round(degrees * 2**31 / 180)


def _scaled(value: float | None, scale: float, offset: float = 0.0) -> int | None:
    return None if value is None else round((value + offset) * scale)


def activity_fit(
    start: datetime,
    samples: Sequence[Sample],
    *,
    sport: str = "cycling",
    utc_offset: timedelta = timedelta(hours=2),
    elapsed_s: int | None = None,
    distance_m: float | None = None,
) -> bytes:
    """A FIT activity file that started at `start` (aware) with 1 Hz `samples`; the session
    lasts as long as the samples and covers their distance unless told otherwise (a file
    without records still has a session)."""
    begin = _fit_time(start)
    elapsed_s = len(samples) if elapsed_s is None else elapsed_s
    distances = [s.distance_m for s in samples if s.distance_m is not None]
    if distance_m is not None:
        distances = [distance_m]
    body = _definition(0, 0, _FILE_ID) + _data(0, _FILE_ID, [4, 255, begin])
    body += _definition(1, 20, _RECORD)
    for index, sample in enumerate(samples):
        body += _data(
            1,
            _RECORD,
            [
                begin + index,
                _semicircles(sample.latitude),
                _semicircles(sample.longitude),
                _scaled(sample.altitude_m, 5, 500),
                sample.heart_rate,
                sample.cadence,
                _scaled(sample.distance_m, 100),
                _scaled(sample.speed_mps, 1000),
                sample.power,
            ],
        )
    end = begin + elapsed_s
    body += _definition(2, 18, _SESSION) + _data(
        2,
        _SESSION,
        [
            end,
            begin,
            elapsed_s * 1000,
            elapsed_s * 1000,
            _scaled(distances[-1] if distances else None, 100),
            SPORT_CODES[sport],
            0,
        ],
    )
    local_end = end + int(utc_offset.total_seconds())
    body += _definition(3, 34, _ACTIVITY) + _data(
        3, _ACTIVITY, [end, elapsed_s * 1000, 1, 0, 26, 1, local_end]
    )
    header = struct.pack("<BBHI4s", 14, 0x20, 2132, len(body), b".FIT")
    header += struct.pack("<H", fit_crc(header))
    content = header + body
    return content + struct.pack("<H", fit_crc(content))


def steady_ride(count: int) -> list[Sample]:
    """`count` seconds of a ride: power with a hard block, heart rate, speed and position,
    and a few seconds where the power meter dropped out."""
    samples = []
    distance = 0.0
    for second in range(count):
        hard = count // 3 <= second < count // 3 + 30
        speed = 9.5 if hard else 8.0
        distance += speed
        samples.append(
            Sample(
                heart_rate=130 + second % 20,
                power=None if second in (7, 8) else (320 if hard else 180 + second % 11),
                cadence=88,
                speed_mps=speed,
                distance_m=distance,
                altitude_m=100.0 + second / 10,
                latitude=59.91 + second * 1e-5,
                longitude=10.75 + second * 1e-5,
            )
        )
    return samples


def not_fit(text: str = "<gpx></gpx>") -> bytes:
    """Bytes that are not a FIT file."""
    return text.encode()
