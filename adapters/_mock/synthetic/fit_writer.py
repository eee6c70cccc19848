"""Writing FIT activity files: `encode_fit` is the inverse of `models.fit.decode_fit`
(Garmin's FIT SDK encoder), so tests and benchmarks can make the files a device would upload.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
from garmin_fit_sdk import Encoder, Profile
from open_sport_taxonomy import Sport
from open_sport_taxonomy.platforms import garmin_fit

from training_gateway.models.activity import Lap
from training_gateway.models.fit import FIT_EPOCH_S, SEMICIRCLE_DEG, FitActivity, FitSummary

_MESG = Profile["mesg_num"]
_EVENT_TIMER, _EVENT_ACTIVITY = 0, 26
_EVENT_START, _EVENT_STOP, _EVENT_STOP_ALL = 0, 1, 4
_FILE_ACTIVITY, _MANUFACTURER_DEVELOPMENT = 4, 255


def _fit_s(moment: datetime) -> int:
    return round(moment.timestamp()) - FIT_EPOCH_S


def _offset_s(summary: FitSummary) -> int | None:
    if summary.start_local is None:
        return None
    local = summary.start_local.replace(tzinfo=UTC)
    return round((local - summary.start).total_seconds())


def encode_fit(activity: FitActivity, *, extra_messages: tuple[dict[str, Any], ...] = ()) -> bytes:
    """The activity as a FIT activity file (records, laps, one session, the activity message).

    `extra_messages` are written as given after the file id (SDK message dicts with `mesg_num`).
    """
    summary, records = activity
    start = _fit_s(summary.start)
    timestamps = (
        records.column("timestamp").cast(pa.int64()).to_numpy() // 1000 - FIT_EPOCH_S
        if records.num_rows
        else np.empty(0, dtype=np.int64)
    )
    end = int(timestamps[-1]) if timestamps.size else start + round(summary.elapsed_s or 0)
    fit_sport, fit_sub_sport = garmin_fit.encode(Sport.parse(summary.sport))
    encoder = Encoder()
    encoder.write_mesg(
        {
            "mesg_num": _MESG["FILE_ID"],
            "type": _FILE_ACTIVITY,
            "manufacturer": _MANUFACTURER_DEVELOPMENT,
            "product": 0,
            "serial_number": 1,
            "time_created": start,
        }
    )
    for message in extra_messages:
        encoder.write_mesg(message)
    if summary.name:
        encoder.write_mesg(
            {"mesg_num": _MESG["WORKOUT"], "wkt_name": summary.name, "sport": fit_sport}
        )
    encoder.write_mesg(_event(start, _EVENT_START))
    for record in _record_messages(records, timestamps):
        encoder.write_mesg(record)
    encoder.write_mesg(_event(end, _EVENT_STOP_ALL))
    for lap in summary.laps:
        encoder.write_mesg(_lap_message(lap))
    totals = {
        "total_elapsed_time": summary.elapsed_s,
        "total_timer_time": summary.timer_s,
        "total_distance": summary.distance_m,
    }
    encoder.write_mesg(
        {
            "mesg_num": _MESG["SESSION"],
            "timestamp": end,
            "start_time": start,
            "sport": fit_sport,
            "sub_sport": fit_sub_sport,
            "num_laps": len(summary.laps),
            "event": _EVENT_ACTIVITY,
            "event_type": _EVENT_STOP,
            **{k: v for k, v in totals.items() if v is not None},
        }
    )
    activity_message: dict[str, Any] = {
        "mesg_num": _MESG["ACTIVITY"],
        "timestamp": end,
        "num_sessions": 1,
        "type": 0,  # manual
        "event": _EVENT_ACTIVITY,
        "event_type": _EVENT_STOP,
    }
    if summary.timer_s is not None:
        activity_message["total_timer_time"] = summary.timer_s
    offset = _offset_s(summary)
    if offset is not None:
        activity_message["local_timestamp"] = end + offset
    encoder.write_mesg(activity_message)
    return encoder.close()


def _event(timestamp: int, event_type: int) -> dict[str, Any]:
    return {
        "mesg_num": _MESG["EVENT"],
        "timestamp": timestamp,
        "event": _EVENT_TIMER,
        "event_type": event_type,
    }


# FIT record field <- unified column (and a conversion).
_FIELDS: dict[str, str] = {
    "heart_rate": "heart_rate",
    "power": "power",
    "speed": "enhanced_speed",
    "cadence": "cadence",
    "altitude": "enhanced_altitude",
    "distance": "distance",
    "latitude": "position_lat",
    "longitude": "position_long",
}


def _record_messages(records: pa.Table, timestamps: np.ndarray) -> Iterator[dict[str, Any]]:
    columns = []
    for column, fit_name in _FIELDS.items():
        if column not in records.column_names:
            continue
        values = records.column(column).to_pylist()
        if column in ("latitude", "longitude"):
            values = [None if v is None else round(v / SEMICIRCLE_DEG) for v in values]
        columns.append((fit_name, values))
    for row, timestamp in enumerate(timestamps.tolist()):
        message = {"mesg_num": _MESG["RECORD"], "timestamp": timestamp}
        for fit_name, values in columns:
            if values[row] is not None:
                message[fit_name] = values[row]
        yield message


def _lap_message(lap: Lap) -> dict[str, Any]:
    message: dict[str, Any] = {
        "mesg_num": _MESG["LAP"],
        "timestamp": _fit_s(lap.end),
        "start_time": _fit_s(lap.start),
        "total_elapsed_time": lap.duration_s,
        "total_timer_time": lap.duration_s,
        "event": 9,  # lap
        "event_type": _EVENT_STOP,
    }
    stats = lap.summary
    for metric, mean, top in (
        (stats.power, "avg_power", "max_power"),
        (stats.heart_rate, "avg_heart_rate", "max_heart_rate"),
        (stats.speed, "enhanced_avg_speed", "enhanced_max_speed"),
        (stats.cadence, "avg_cadence", "max_cadence"),
    ):
        if metric is not None:
            message.update(
                {k: v for k, v in ((mean, metric.mean), (top, metric.max)) if v is not None}
            )
    if stats.distance is not None and stats.distance.sum is not None:
        message["total_distance"] = stats.distance.sum
    return message
