"""Reading SweatStack's Parquet answers (activity data and per-activity mean-max curves) into
the unified schema: `data_to_unified` and `mean_max_points` turn them into `models.timeseries`
tables and `MeanMaxPoint`s; anything that does not have the documented shape is a
`ProviderError` naming sweatstack. (The mock writes them: `mock.parquet`.)

Activity data has the columns `timestamp` (UTC), `timestamp_local` (naive local wall clock),
then the requested metrics; `duration` is the time since the start. A mean-max curve has one
row per duration: `duration`, the metric and `start` (UTC start of the best window).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from training_gateway.adapters.base import LongitudinalMeanMaxRow, MeanMaxPoint
from training_gateway.models.errors import ProviderError
from training_gateway.models.timeseries import TIMESERIES_COLUMNS, conform

PROVIDER = "sweatstack"
#: The metrics SweatStack computes mean-max curves for.
MEAN_MAX_METRICS = ("power", "speed")
_SECONDS_PER_UNIT = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def read_parquet(payload: bytes, what: str) -> pa.Table:
    """A Parquet response as a table; ProviderError naming sweatstack if it does not read."""
    try:
        return pq.read_table(io.BytesIO(payload))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ProviderError(
            PROVIDER, f"{PROVIDER} sent {what} that is not readable Parquet: {exc}"
        ) from None


def _malformed(what: str, problem: str) -> ProviderError:
    return ProviderError(PROVIDER, f"{PROVIDER} sent {what} {problem}")


def _seconds(column: pa.ChunkedArray, what: str, name: str) -> pa.ChunkedArray:
    """A duration (any unit) or a plain number of seconds, as float seconds."""
    kind = column.type
    if pa.types.is_duration(kind):
        seconds = pc.multiply(
            column.cast(pa.int64()).cast(pa.float64()), _SECONDS_PER_UNIT[kind.unit]
        )
        return seconds
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return column.cast(pa.float64())
    raise _malformed(what, f"with a {name!r} column of type {kind}, not a duration")


def data_to_unified(table: pa.Table, metrics: Sequence[str], *, what: str) -> pa.Table:
    """SweatStack's activity data in the unified schema, with the requested metrics it has.

    `timestamp` must be tz-aware (it becomes UTC ms), `timestamp_local` naive, `duration` the
    time since the start (it becomes float seconds).
    """
    names = table.column_names
    for required in ("timestamp", "duration"):
        if required not in names:
            raise _malformed(what, f"without a {required!r} column")
    timestamp = table.column("timestamp")
    if not pa.types.is_timestamp(timestamp.type) or timestamp.type.tz is None:
        raise _malformed(what, f"with a 'timestamp' column of type {timestamp.type}, not UTC")
    columns: dict[str, pa.ChunkedArray | pa.Array] = {
        "timestamp": timestamp.cast(TIMESERIES_COLUMNS["timestamp"]),
        "duration": _seconds(table.column("duration"), what, "duration"),
    }
    if "timestamp_local" in names:
        local = table.column("timestamp_local")
        if not pa.types.is_timestamp(local.type) or local.type.tz is not None:
            raise _malformed(what, f"with a 'timestamp_local' of type {local.type}, not naive")
        columns["timestamp_local"] = local
    else:  # the wall clock is unknown, not absent: keep the column, null
        columns["timestamp_local"] = pa.nulls(table.num_rows, TIMESERIES_COLUMNS["timestamp_local"])
    for name in metrics:
        if name in names and name in TIMESERIES_COLUMNS and name not in columns:
            columns[name] = table.column(name)
    try:
        return conform(pa.table(columns), metrics)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise _malformed(what, f"with a column that is not the documented type: {exc}") from None


def mean_max_points(table: pa.Table, metric: str, *, what: str) -> list[MeanMaxPoint]:
    """A per-activity mean-max table as points, in the provider's order.

    A row without a value (no window of that length) is left out, as SweatStack leaves out
    durations longer than the activity.
    """
    for required in ("duration", metric, "start"):
        if required not in table.column_names:
            raise _malformed(what, f"without a {required!r} column")
    start = table.column("start")
    if not pa.types.is_timestamp(start.type) or start.type.tz is None:
        raise _malformed(what, f"with a 'start' column of type {start.type}, not UTC")
    value_type = table.column(metric).type
    if not (pa.types.is_integer(value_type) or pa.types.is_floating(value_type)):
        raise _malformed(what, f"with a {metric!r} column of type {value_type}, not a number")
    durations = _seconds(table.column("duration"), what, "duration").to_pylist()
    values = table.column(metric).cast(pa.float64()).to_pylist()
    starts = start.cast(pa.timestamp("us", tz="UTC")).to_pylist()
    points: list[MeanMaxPoint] = []
    for duration_s, value, moment in zip(durations, values, starts, strict=True):
        if value is None or duration_s is None or moment is None:
            continue
        if not float(duration_s).is_integer() or duration_s < 1:
            raise _malformed(what, f"with a duration of {duration_s} s, not a whole second")
        points.append(
            MeanMaxPoint(
                duration_s=int(duration_s), value=float(value), start=moment.astimezone(UTC)
            )
        )
    return points


def longitudinal_rows(table: pa.Table, metric: str, *, what: str) -> list[LongitudinalMeanMaxRow]:
    """A longitudinal mean-max table (by duration or by intensity, the same columns in either
    order) as rows; a row without a value is left out."""
    for required in ("duration", metric, "start", "activity_id", "sport"):
        if required not in table.column_names:
            raise _malformed(what, f"without a {required!r} column")
    start = table.column("start")
    if not pa.types.is_timestamp(start.type) or start.type.tz is None:
        raise _malformed(what, f"with a 'start' column of type {start.type}, not UTC")
    value_type = table.column(metric).type
    if not (pa.types.is_integer(value_type) or pa.types.is_floating(value_type)):
        raise _malformed(what, f"with a {metric!r} column of type {value_type}, not a number")
    durations = _seconds(table.column("duration"), what, "duration").to_pylist()
    values = table.column(metric).cast(pa.float64()).to_pylist()
    starts = start.cast(pa.timestamp("us", tz="UTC")).to_pylist()
    ids = table.column("activity_id").cast(pa.string()).to_pylist()
    sports = table.column("sport").cast(pa.string()).to_pylist()
    afters = (
        table.column("after").cast(pa.float64()).to_pylist()
        if "after" in table.column_names
        else [None] * table.num_rows
    )
    rows: list[LongitudinalMeanMaxRow] = []
    for duration_s, value, moment, native_id, sport, after in zip(
        durations, values, starts, ids, sports, afters, strict=True
    ):
        if value is None or duration_s is None or moment is None or native_id is None:
            continue
        if not float(duration_s).is_integer() or duration_s < 1:
            raise _malformed(what, f"with a duration of {duration_s} s, not a whole second")
        rows.append(
            LongitudinalMeanMaxRow(
                duration_s=int(duration_s),
                value=float(value),
                start=moment.astimezone(UTC),
                native_id=native_id,
                sport=sport or "",
                after=after,
            )
        )
    return rows
