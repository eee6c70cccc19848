"""FIT activity files: a session summary and the records in the unified timeseries schema.

The records, nearly all of a file, are read in fixed-stride runs with numpy
(models.fit_records: about 100x Garmin's SDK on a 1 h ride, benchmarks/analytics.py); the rest
of the file (sessions, laps, device and sport messages) is decoded by Garmin's FIT SDK
(`garmin-fit-sdk`), which also decodes whole any file that reader leaves to it, with the same
answer (tests/models/test_fit_records.py). The file CRCs are checked here with `anycrc` (C)
before decoding, ~300x faster than the SDK's pure-Python CRC, so errors say what is wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import PurePosixPath
from typing import Any, NamedTuple, cast

import anycrc
import numpy as np
import pyarrow as pa
from garmin_fit_sdk import Decoder, Stream
from msgspec import Struct, field
from open_sport_taxonomy.platforms import garmin_fit

from training_gateway.models.activity import (
    ActivityDraft,
    AwareDatetime,
    Lap,
    MetricStats,
    NaiveDatetime,
    Summary,
)
from training_gateway.models.errors import InvalidInput
from training_gateway.models.fit_records import Records, split_records
from training_gateway.models.timeseries import TIMESERIES_COLUMNS, conform

# 25 MiB. A 24 h recording at 1 Hz with every common sensor is about 5 MB, so a larger upload
# is almost certainly not a single activity; the limit also caps decoding time and memory.
MAX_FIT_BYTES = 25 * 1024 * 1024
FIT_EPOCH_S = 631065600  # 1989-12-31T00:00:00Z, where FIT timestamps count from
SEMICIRCLE_DEG = 180.0 / 2**31
FIT_FILE_TYPE_ACTIVITY = 4
# A local clock more than this far from UTC is not a time zone: ignore it.
_MAX_UTC_OFFSET_S = 15 * 3600
_CRC16 = anycrc.Model("CRC16-ARC")  # FIT's CRC: poly 0x8005 reflected, init 0
_HEADER = b".FIT"


class FitSummary(Struct, kw_only=True, forbid_unknown_fields=True):
    """What an activity file says about the whole activity (all its sessions)."""

    sport: str  # Open Sport Taxonomy string, from the first session's FIT sport/sub_sport
    start: AwareDatetime  # UTC
    start_local: NaiveDatetime | None = None  # when the file records the local clock
    elapsed_s: float | None = None
    timer_s: float | None = None
    distance_m: float | None = None
    name: str | None = None
    laps: list[Lap] = field(default_factory=list)
    # FIT fields the summary has no place for: raw sport codes, device, sport profile name.
    extensions: dict[str, Any] = field(default_factory=dict)


class FitActivity(NamedTuple):
    """A decoded activity file."""

    summary: FitSummary
    records: pa.Table  # unified timeseries schema (models.timeseries), one row per record


def draft_from_fit(summary: FitSummary, *, filename: str) -> ActivityDraft:
    """An activity draft from a file's session summary, holding exactly what the file says
    (a provider that cannot hold a value refuses or adapts it in its adapter). The start keeps
    the file's local offset; the name defaults to the file's stem."""
    start = summary.start
    if summary.start_local is not None:
        offset = summary.start_local - summary.start.replace(tzinfo=None)
        start = summary.start.astimezone(timezone(timedelta(seconds=round(offset.total_seconds()))))
    elapsed = summary.elapsed_s or summary.timer_s
    if not elapsed or elapsed <= 0:
        raise InvalidInput(filename, f"{filename} records no elapsed time, so it holds no activity")
    return ActivityDraft(
        sport=summary.sport,
        start=start,
        duration_s=float(elapsed),
        name=summary.name or PurePosixPath(filename).stem,
        distance_m=summary.distance_m,
    )


def decode_fit(data: bytes, *, filename: str) -> FitActivity:
    """Decode an activity FIT file; anything unusable raises InvalidInput naming `filename`.

    The records are read in fixed-stride runs with numpy (models.fit_records) and the rest of
    the file by Garmin's SDK; a file that reader cannot take exactly is decoded by the SDK
    alone, with the same answer."""
    _check_container(data, filename)
    split = split_records(data)
    if split is None:
        messages = _sdk_messages(data, filename)
        columns = _columns_of_messages(messages.get("record_mesgs", []))
    else:
        try:
            messages = _sdk_messages(split.rest, filename)
        except InvalidInput:  # say it as of the whole file, where its bytes are
            messages = _sdk_messages(data, filename)
        columns = _columns_of_records(split)
    file_ids = messages.get("file_id_mesgs", [])
    if file_ids and file_ids[0].get("type", FIT_FILE_TYPE_ACTIVITY) != FIT_FILE_TYPE_ACTIVITY:
        raise InvalidInput(
            filename, f"not an activity file (FIT file type {file_ids[0].get('type')})"
        )
    sessions = messages.get("session_mesgs", [])
    first = int(columns.fit_s[0]) if columns.fit_s.size else None
    start = _start_time(sessions, first, messages)
    if start is None:
        raise InvalidInput(filename, "no activity in the file: no session and no records")
    offset = _utc_offset_s(messages.get("activity_mesgs", []))
    summary = _summary(messages, sessions, start, offset)
    table = _records_table(columns, start, offset)
    _check_span(table, summary, filename)
    return FitActivity(summary, table)


def _sdk_messages(data: bytes, filename: str) -> dict[str, Any]:
    """Garmin's SDK's messages of `data`: plain dicts keyed by message type ("record_mesgs",
    ...; unknown types by number)."""
    decoded, errors = Decoder(Stream.from_byte_array(bytearray(data))).read(
        enable_crc_check=False,  # checked above, faster and with a clearer error
        convert_types_to_strings=False,
        convert_datetimes_to_dates=False,
    )
    if errors:
        raise InvalidInput(filename, f"corrupt FIT file: {errors[0]}")
    return cast(dict[str, Any], decoded)


# Records may trail a session a little (auto-pause, late sensor data), never by days.
MAX_RECORD_SPAN_S = 7 * 86400
_RECORD_SLACK_S = 3600


def _check_span(table: pa.Table, summary: FitSummary, filename: str) -> None:
    """Refuse records that start before the activity or run far beyond its session."""
    if table.num_rows == 0:
        return
    elapsed = table.column("duration").to_numpy(zero_copy_only=False)
    first, last = float(np.nanmin(elapsed)), float(np.nanmax(elapsed))
    session_s = max(summary.elapsed_s or 0.0, summary.timer_s or 0.0)
    limit = min(MAX_RECORD_SPAN_S, (session_s or last) + _RECORD_SLACK_S)
    if first < -_RECORD_SLACK_S or last > limit:
        raise InvalidInput(
            filename,
            f"records span {first:.0f} s to {last:.0f} s from the start, beyond the session's "
            f"{session_s:.0f} s: the timestamps are corrupt",
        )


def _check_container(data: bytes, filename: str) -> None:
    """Size, signature and CRCs of each FIT file in `data` (FIT files may be chained)."""
    size = len(data)
    if size == 0:
        raise InvalidInput(filename, "the file is empty")
    if size > MAX_FIT_BYTES:
        raise InvalidInput(
            filename, f"the file is {size} bytes, over the {MAX_FIT_BYTES} byte (25 MiB) limit"
        )
    position = 0
    while position < size:
        header_size = data[position]
        if header_size not in (12, 14) or data[position + 8 : position + 12] != _HEADER:
            if position == 0:
                raise InvalidInput(filename, "not a FIT file (no .FIT header)")
            raise InvalidInput(
                filename, f"corrupt FIT file: {size - position} stray bytes at the end"
            )
        data_size = int.from_bytes(data[position + 4 : position + 8], "little")
        end = position + header_size + data_size + 2
        if end > size:
            raise InvalidInput(
                filename,
                f"corrupt FIT file: truncated, the header announces {end - position} bytes "
                f"and {size - position} are there",
            )
        if header_size == 14:
            header_crc = int.from_bytes(data[position + 12 : position + 14], "little")
            if header_crc and header_crc != _CRC16.calc(data[position : position + 12]):
                raise InvalidInput(filename, "corrupt FIT file: header CRC mismatch")
        if int.from_bytes(data[end - 2 : end], "little") != _CRC16.calc(data[position : end - 2]):
            raise InvalidInput(filename, "corrupt FIT file: CRC mismatch")
        position = end


def _start_time(
    sessions: list[dict[str, Any]], first_record: int | None, messages: dict[str, Any]
) -> int | None:
    """The activity's start in FIT seconds: the first session's, else the first record's."""
    starts = [s["start_time"] for s in sessions if s.get("start_time") is not None]
    if starts:
        return int(min(starts))
    if first_record is not None:
        return first_record
    for activity in messages.get("activity_mesgs", []):
        if activity.get("timestamp") is not None and activity.get("total_timer_time") is not None:
            return int(activity["timestamp"] - activity["total_timer_time"])
    return None


def _utc_offset_s(activities: list[dict[str, Any]]) -> int | None:
    """Local minus UTC clock, from the activity message's `local_timestamp`."""
    for activity in activities:
        local, utc = activity.get("local_timestamp"), activity.get("timestamp")
        if local is not None and utc is not None and abs(local - utc) <= _MAX_UTC_OFFSET_S:
            return int(local - utc)
    return None


def _utc(fit_s: float) -> datetime:
    return datetime.fromtimestamp(fit_s + FIT_EPOCH_S, tz=UTC)


def _local(fit_s: float, offset_s: int | None) -> datetime | None:
    if offset_s is None:
        return None
    return (_utc(fit_s) + timedelta(seconds=offset_s)).replace(tzinfo=None)


def _sport(sessions: list[dict[str, Any]], messages: dict[str, Any]) -> tuple[str, Any, Any]:
    for source in (sessions, messages.get("sport_mesgs", [])):
        for message in source:
            if message.get("sport") is not None:
                sport, sub_sport = message["sport"], message.get("sub_sport")
                return str(garmin_fit.decode(sport, sub_sport)), sport, sub_sport
    return str(garmin_fit.decode(None)), None, None


def _total(sessions: list[dict[str, Any]], key: str) -> float | None:
    values = [s[key] for s in sessions if s.get(key) is not None]
    return float(sum(values)) if values else None


def _summary(
    messages: dict[str, Any], sessions: list[dict[str, Any]], start: int, offset_s: int | None
) -> FitSummary:
    sport, fit_sport, fit_sub_sport = _sport(sessions, messages)
    extensions: dict[str, Any] = {"fit_sport": fit_sport, "fit_sub_sport": fit_sub_sport}
    file_ids = messages.get("file_id_mesgs", [])
    if file_ids:
        for key in ("manufacturer", "product", "serial_number"):
            extensions[key] = file_ids[0].get(key)
    profile = next((s["sport_profile_name"] for s in sessions if s.get("sport_profile_name")), None)
    if profile:
        extensions["sport_profile_name"] = profile
    if len(sessions) > 1:
        extensions["sessions"] = len(sessions)
    # Developer fields (CORE temperature, Stryd, ...) have no unified column: name them.
    developer = sorted(
        {
            d["field_name"]
            for d in messages.get("field_description_mesgs", [])
            if d.get("field_name")
        }
    )
    if developer:
        extensions["developer_fields"] = developer
    workout = next(
        (w["wkt_name"] for w in messages.get("workout_mesgs", []) if w.get("wkt_name")), None
    )
    return FitSummary(
        sport=sport,
        start=_utc(start),
        start_local=_local(start, offset_s),
        elapsed_s=_total(sessions, "total_elapsed_time"),
        timer_s=_total(sessions, "total_timer_time"),
        distance_m=_total(sessions, "total_distance"),
        name=workout,
        laps=[_lap(lap, offset_s) for lap in messages.get("lap_mesgs", []) if _lap_ok(lap)],
        extensions={k: v for k, v in extensions.items() if v is not None},
    )


def _lap_ok(lap: dict[str, Any]) -> bool:
    return lap.get("start_time") is not None and lap.get("total_elapsed_time") is not None


def _stats(lap: dict[str, Any], mean: str, top: str) -> MetricStats | None:
    if lap.get(mean) is None and lap.get(top) is None:
        return None
    return MetricStats(mean=lap.get(mean), max=lap.get(top))


def _lap(lap: dict[str, Any], offset_s: int | None) -> Lap:
    start, elapsed = lap["start_time"], float(lap["total_elapsed_time"])
    speed = _stats(lap, "enhanced_avg_speed", "enhanced_max_speed") or _stats(
        lap, "avg_speed", "max_speed"
    )
    distance = lap.get("total_distance")
    return Lap(
        start=_utc(start),
        end=_utc(start + elapsed),
        start_local=_local(start, offset_s),
        end_local=_local(start + elapsed, offset_s),
        duration_s=elapsed,
        summary=Summary(
            power=_stats(lap, "avg_power", "max_power"),
            heart_rate=_stats(lap, "avg_heart_rate", "max_heart_rate"),
            speed=speed,
            cadence=_stats(lap, "avg_cadence", "max_cadence"),
            distance=None if distance is None else MetricStats(sum=distance),
        ),
    )


# Unified column <- FIT record fields, most preferred first.
_RECORD_FIELDS: dict[str, tuple[str, ...]] = {
    "heart_rate": ("heart_rate",),
    "power": ("power",),
    "speed": ("enhanced_speed", "speed"),
    "cadence": ("cadence",),
    "altitude": ("enhanced_altitude", "altitude"),
    "distance": ("distance",),
    "latitude": ("position_lat",),
    "longitude": ("position_long",),
}


class _Columns(NamedTuple):
    """The records that have a timestamp: FIT seconds, and each unified column's values (before
    `conform`) where some record has it."""

    fit_s: np.ndarray  # int64
    values: dict[str, pa.Array]


def _column(records: list[dict[str, Any]], names: tuple[str, ...]) -> list[Any]:
    first, *rest = names
    values = [r.get(first) for r in records]
    for other in rest:
        if any(v is None for v in values):
            values = [
                v if v is not None else r.get(other) for v, r in zip(values, records, strict=True)
            ]
    # Array-valued fields (a few devices write several values per record) keep the first.
    return [v[0] if isinstance(v, list) else v for v in values]


def _columns_of_messages(messages: list[dict[str, Any]]) -> _Columns:
    """The columns of the SDK's record messages."""
    records = [r for r in messages if r.get("timestamp") is not None]
    fit_s = np.fromiter((r["timestamp"] for r in records), dtype=np.int64, count=len(records))
    columns: dict[str, pa.Array] = {}
    for name, fit_names in _RECORD_FIELDS.items():
        values = _column(records, fit_names)
        if all(v is None for v in values):
            continue
        if name in ("latitude", "longitude"):
            values = [None if v is None else v * SEMICIRCLE_DEG for v in values]
        columns[name] = pa.array(values)
    return _Columns(fit_s, columns)


def _columns_of_records(records: Records) -> _Columns:
    """The same columns from records read in runs. Where a record has both, the SDK gives
    `enhanced_speed` (`enhanced_altitude`) as expanded from `speed` (`altitude`), with the
    same scale: so the plain field wins over the enhanced one, and either is the column."""
    stamps = records.scaled("timestamp")
    if stamps is None:
        return _Columns(np.zeros(0, np.int64), {})
    keep = stamps[1]
    columns: dict[str, pa.Array] = {}
    for name, fit_names in _RECORD_FIELDS.items():
        found = [f for f in (records.scaled(n) for n in reversed(fit_names)) if f is not None]
        if not found:
            continue
        values, valid = found[0]
        for more_values, more_valid in found[1:]:
            values = np.where(valid, values, more_values)
            valid = valid | more_valid
        values, valid = values[keep], valid[keep]
        if not valid.any():
            continue
        if name in ("latitude", "longitude"):
            values = values.astype(np.float64) * SEMICIRCLE_DEG
        columns[name] = pa.array(values, mask=~valid)
    return _Columns(stamps[0][keep].astype(np.int64), columns)


def _records_table(columns: _Columns, start: int, offset_s: int | None) -> pa.Table:
    """Records in the unified schema: timestamps, duration since `start`, the metrics present."""
    fit_s = columns.fit_s
    utc_ms = (fit_s + FIT_EPOCH_S) * 1000
    table: dict[str, pa.Array] = {"timestamp": pa.array(utc_ms, TIMESERIES_COLUMNS["timestamp"])}
    if offset_s is not None:
        table["timestamp_local"] = pa.array(utc_ms + offset_s * 1000, pa.timestamp("ms"))
    table["duration"] = pa.array((fit_s - start).astype(np.float64))
    return conform(pa.table({**table, **columns.values}))
