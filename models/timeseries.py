"""The unified timeseries: one column schema whatever provider recorded the activity."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from training_gateway.models.activity import Activity
from training_gateway.models.errors import InvalidInput

# Column -> Arrow type. `timestamp` is UTC, `timestamp_local` the athlete's naive wall clock,
# `duration` the seconds elapsed since the activity's start. Units: heart_rate bpm, power W,
# speed m/s, cadence rpm (spm for runs), altitude m, distance m (cumulative), lat/lon degrees.
TIMESERIES_COLUMNS: dict[str, pa.DataType] = {
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "timestamp_local": pa.timestamp("ms"),
    "duration": pa.float64(),
    "heart_rate": pa.int16(),
    "power": pa.int16(),
    "speed": pa.float64(),
    "cadence": pa.int16(),
    "altitude": pa.float64(),
    "distance": pa.float64(),
    "latitude": pa.float64(),
    "longitude": pa.float64(),
}
TIME_COLUMNS = ("timestamp", "timestamp_local", "duration")
METRICS: tuple[str, ...] = tuple(c for c in TIMESERIES_COLUMNS if c not in TIME_COLUMNS)
DEFAULT_METRICS: tuple[str, ...] = METRICS
LONGITUDINAL_COLUMNS: dict[str, pa.DataType] = {
    "activity_id": pa.string(),
    "provider": pa.string(),
    "sport": pa.string(),
}


def parse_metrics(raw: Sequence[str] | None, *, field: str = "metrics") -> tuple[str, ...]:
    """Requested metrics (repeatable or comma-separated); an unknown one is refused naming it."""
    if not raw:
        return DEFAULT_METRICS
    wanted: list[str] = []
    for value in raw:
        for name in (part.strip() for part in value.split(",")):
            if not name or name in TIME_COLUMNS:
                continue
            if name not in METRICS:
                raise InvalidInput(field, f"unknown metric {name!r}; known: {', '.join(METRICS)}")
            if name not in wanted:
                wanted.append(name)
    return tuple(wanted) or DEFAULT_METRICS


def conform(table: pa.Table, metrics: Sequence[str] = METRICS) -> pa.Table:
    """The table in the unified schema: time columns, then the requested metrics it has, each
    cast to its documented type, in the documented order. Missing metrics are left out."""
    columns, fields = [], []
    for name in (*TIME_COLUMNS, *(m for m in METRICS if m in metrics)):
        if name not in table.column_names:
            continue
        column = table.column(name)
        target = TIMESERIES_COLUMNS[name]
        if not column.type.equals(target):
            if pa.types.is_integer(target) and pa.types.is_floating(column.type):
                column = pc.round(column)  # a mean (a segment's) rounds, not truncates
            column = column.cast(target, safe=False)
        columns.append(column)
        fields.append(pa.field(name, target))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def schema_for(metrics: Sequence[str], *, longitudinal: bool = False) -> pa.Schema:
    """The schema of a table holding `metrics` (plus the longitudinal id columns)."""
    names = [*TIME_COLUMNS, *(m for m in METRICS if m in metrics)]
    fields = [pa.field(name, TIMESERIES_COLUMNS[name]) for name in names]
    if longitudinal:
        fields += [pa.field(name, kind) for name, kind in LONGITUDINAL_COLUMNS.items()]
    return pa.schema(fields)


def with_activity_columns(table: pa.Table, activity: Activity, schema: pa.Schema) -> pa.Table:
    """A single activity's table in the longitudinal `schema`: missing metrics as nulls, plus
    `activity_id`, `provider` and `sport`."""
    rows = table.num_rows
    identity = {"activity_id": activity.id, "provider": activity.provider, "sport": activity.sport}
    columns = []
    for field in schema:
        if field.name in table.column_names:
            columns.append(table.column(field.name))
        elif field.name in identity:
            columns.append(pa.array([identity[field.name]] * rows, pa.string()))
        else:
            columns.append(pa.nulls(rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)
