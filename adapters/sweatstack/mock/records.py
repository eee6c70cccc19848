"""The records the SweatStack mock stores: activities (with the summaries SweatStack computes
from their samples), uploaded files' sources, and lab tests; and how a decoded file's records
table becomes an activity's samples."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from training_gateway.adapters._mock import SyntheticSession
from training_gateway.adapters.sweatstack import mapping, wire

#: Recorded stream metrics, in the order an activity lists them.
STREAM_METRICS = (
    "power", "speed", "heart_rate", "cadence", "distance", "altitude", "latitude", "longitude",
)  # fmt: skip
UPLOAD_ORIGIN = "manual_upload"


# --- summaries computed from the streams -------------------------------------------------


def _rounded(value: Any, digits: int) -> float:
    return round(float(value), digits)


def _with_values(values: np.ndarray) -> np.ndarray:
    """The samples that have a value (a recorded file may lack some)."""
    values = np.asarray(values, dtype=np.float64)
    return values[np.isfinite(values)]


def summary_fields(streams: Mapping[str, np.ndarray], begin: int, end: int) -> dict[str, Any]:
    """SweatStack's per-metric aggregates over the samples `[begin, end)`; samples without a
    value (NaN) are left out, and a metric with none in the window has no aggregate."""
    fields: dict[str, Any] = {}
    window = {
        name: _with_values(values[begin:end])
        for name, values in streams.items()
        if name != "elapsed_s"
    }
    window = {name: values for name, values in window.items() if values.size}
    for name, digits in (("power", 1), ("speed", 3), ("cadence", 1)):
        if name in window:
            values = window[name]
            fields[name] = wire.MeanMaxStats(
                mean=_rounded(values.mean(), digits), max=_rounded(values.max(), digits)
            )
    if "heart_rate" in window:
        values = window["heart_rate"]
        fields["heart_rate"] = wire.RangeStats(
            mean=_rounded(values.mean(), 1),
            min=float(values.min()),
            max=float(values.max()),
            start=float(values[0]),
            end=float(values[-1]),
        )
    if "distance" in window:
        before = _with_values(streams["distance"][:begin])
        covered = window["distance"][-1] - (before[-1] if before.size else 0.0)
        fields["distance"] = wire.DistanceStats(sum=_rounded(covered, 1))
    if "altitude" in window:
        values = window["altitude"]
        steps = np.diff(values)
        fields["altitude"] = wire.AltitudeStats(
            mean=_rounded(values.mean(), 1),
            gain=_rounded(steps[steps > 0].sum(), 1),
            loss=_rounded(-steps[steps < 0].sum(), 1),
            min=float(values.min()),
            max=float(values.max()),
        )
    return fields


@dataclass(frozen=True)
class RecordedSession(SyntheticSession):
    """A session decoded from an uploaded file: its samples as recorded (`elapsed_s` in whole
    seconds since the start, NaN where a sample has no value), its own distance, no laps."""

    recorded: Mapping[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)
    recorded_distance_m: float | None = None

    @cached_property
    def streams(self) -> dict[str, np.ndarray]:
        """The recorded samples (there is nothing to synthesize)."""
        return dict(self.recorded)

    @property
    def distance_m(self) -> float:
        return self.recorded_distance_m or 0.0

    def lap_bounds(self) -> list[tuple[int, int]]:
        """No laps: the decoded summary carries none."""
        return []


@dataclass(eq=False)
class StoredActivity:
    """One activity the mock holds: its owner, ids and the session that yields its samples."""

    id: str
    user_id: str
    source_id: str
    session: SyntheticSession
    devices: tuple[str, ...] = ()

    @property
    def sport(self) -> str:
        return self.session.sport

    @property
    def start(self) -> datetime:
        return self.session.start

    @property
    def start_local(self) -> datetime:
        return self.session.start.replace(tzinfo=None)

    @property
    def tags(self) -> tuple[str, ...]:
        return self.session.tags

    @property
    def recorded_metrics(self) -> list[str]:
        streams = self.session.streams
        return [name for name in STREAM_METRICS if name in streams]

    @cached_property
    def details(self) -> wire.ActivityDetails:
        """The activity as `GET /api/v1/activities/{id}` returns it."""
        session = self.session
        streams = session.streams
        samples = len(streams["elapsed_s"])
        laps = [
            wire.Lap(
                start=session.start + timedelta(seconds=begin),
                end=session.start + timedelta(seconds=end),
                start_local=(session.start + timedelta(seconds=begin)).replace(tzinfo=None),
                end_local=(session.start + timedelta(seconds=end)).replace(tzinfo=None),
                duration=timedelta(seconds=end - begin),
                **summary_fields(streams, begin, end),
            )
            for begin, end in session.lap_bounds()
        ]
        summary = wire.SummaryMetrics(**summary_fields(streams, 0, samples))
        distance = summary.distance.sum if summary.distance is not None else None
        if isinstance(session, RecordedSession) and session.recorded_distance_m is not None:
            distance = session.recorded_distance_m
        return wire.ActivityDetails(
            id=self.id,
            sport=session.sport,
            start=session.start,
            end=session.end,
            start_local=session.start.replace(tzinfo=None),
            end_local=session.end.replace(tzinfo=None),
            duration=timedelta(seconds=session.duration_s),
            metrics=self.recorded_metrics,
            source_id=self.source_id,
            tags=list(session.tags),
            summary=summary,
            laps=laps,
            traces=None,
            app_metadata=None,
            distance=distance,
            devices=list(self.devices),
        )

    @property
    def list_item(self) -> wire.ActivitySummary:
        """The activity as an item of `GET /api/v1/activities/`."""
        return mapping.details_as_summary(self.details)


@dataclass(eq=False)
class StoredSource:
    """One uploaded file as the mock tracks it, with the status its processing reached."""

    id: str
    user_id: str
    filename: str | None
    created_at: datetime
    status: wire.SourceStatus = "processing"
    activity_ids: list[str] = field(default_factory=list)
    error: wire.SourceError | None = None

    @property
    def response(self) -> wire.SourceResponse:
        """The source as SweatStack answers it (`SourceResponse`)."""
        return wire.SourceResponse(
            id=self.id,
            type="fit",
            origin=UPLOAD_ORIGIN,
            filename=self.filename,
            status=self.status,
            activity_ids=list(self.activity_ids),
            created_at=self.created_at,
            error=self.error,
        )


@dataclass(eq=False)
class StoredTest:
    id: str
    user: str
    created_by: str
    sport: str
    start: datetime  # with the athlete's offset
    end: datetime | None
    title: str | None
    results: dict[str, Any] | None
    tags: list[str] | None
    app_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: int = 1

    @property
    def start_local(self) -> datetime:
        return self.start.replace(tzinfo=None)

    def summary(self, app: str) -> dict[str, Any]:
        """The LabTestSummary JSON: instants in UTC with `Z`, local wall clocks naive."""
        return {
            "id": self.id,
            "tags": self.tags,
            "created_by": self.created_by,
            "title": self.title,
            "sport": self.sport,
            "start": _utc(self.start),
            "end": _utc(self.end) if self.end else None,
            "results": self.results,
            "app_metadata": self.app_metadata.get(app),
            "start_local": self.start_local.isoformat(),
            "end_local": self.end.replace(tzinfo=None).isoformat() if self.end else None,
        }


# --- dates as SweatStack filters them ---------------------------------------------------


class Dated(Protocol):
    """A stored record with an instant and its local wall clock (an activity or a test)."""

    @property
    def start(self) -> datetime: ...

    @property
    def start_local(self) -> datetime: ...


def on_or_after(stored: Dated, bound: date | datetime | None) -> bool:
    """Whether `stored` starts at or after `bound`: an aware instant, else the local wall clock
    (a naive datetime, or a date: the athlete's local day)."""
    if bound is None:
        return True
    if isinstance(bound, datetime):
        return stored.start >= bound if bound.tzinfo else stored.start_local >= bound
    return stored.start_local.date() >= bound


def on_or_before(stored: Dated, bound: date | datetime | None) -> bool:
    """Whether `stored` starts at or before `bound` (read as `on_or_after` reads it)."""
    if bound is None:
        return True
    if isinstance(bound, datetime):
        return stored.start <= bound if bound.tzinfo else stored.start_local <= bound
    return stored.start_local.date() <= bound


# --- decoded files as samples -----------------------------------------------------------


def _offset_of(local: datetime | None, instant: datetime) -> timezone:
    """The UTC offset that turns `instant` into the wall clock `local` (UTC when unknown)."""
    if local is None:
        return UTC
    minutes = round((local - instant.astimezone(UTC).replace(tzinfo=None)) / timedelta(minutes=1))
    return timezone(timedelta(minutes=minutes))


def _column_values(records: pa.Table, name: str) -> np.ndarray:
    """A column of a unified records table as float64, NaN where a sample has no value."""
    return np.asarray(
        pc.cast(records.column(name), pa.float64()).to_numpy(zero_copy_only=False),
        dtype=np.float64,
    )


def recorded_streams(records: pa.Table, start: datetime) -> dict[str, np.ndarray]:
    """A unified records table as the mock's streams: `elapsed_s` in whole seconds since
    `start`, one float array per recorded metric (metrics without any value are left out)."""
    if "duration" in records.column_names:
        elapsed = _column_values(records, "duration")
    else:
        stamps = pc.cast(records.column("timestamp"), pa.timestamp("ms", tz="UTC"))
        millis = pc.cast(stamps, pa.int64()).to_numpy(zero_copy_only=False)
        elapsed = (millis - start.timestamp() * 1000) / 1000
    keep = np.isfinite(elapsed)
    streams: dict[str, np.ndarray] = {"elapsed_s": np.rint(elapsed[keep]).astype(np.int64)}
    for name in STREAM_METRICS:
        if name in records.column_names:
            values = _column_values(records, name)[keep]
            if np.isfinite(values).any():
                streams[name] = values
    return streams


def recorded_session(summary: Any, records: pa.Table, *, key: str) -> RecordedSession:
    """A decoded file (`models.fit.decode_fit`'s summary and unified records table) as a
    session with the recorded samples.

    From the summary it takes `sport` and `start`, and when present `start_local` (for the
    athlete's offset, else the records' `timestamp_local`), `elapsed_s` (else the records'
    span) and `distance_m` (else the records' last distance).
    """
    start: datetime = summary.start
    if start.tzinfo is None:
        raise ValueError("a decoded file's start must be aware")
    local = getattr(summary, "start_local", None)
    if local is None and records.num_rows and "timestamp_local" in records.column_names:
        first = records.slice(0, 1).to_pylist()[0]
        if first["timestamp_local"] is not None and first["timestamp"] is not None:
            local = first["timestamp_local"] - (first["timestamp"] - start)
    start = start.astimezone(_offset_of(local, start))
    streams = recorded_streams(records, start)
    elapsed = streams["elapsed_s"]
    duration_s = getattr(summary, "elapsed_s", None)
    if duration_s is None:
        duration_s = int(elapsed.max()) + 1 if elapsed.size else 0
    distance_m = getattr(summary, "distance_m", None)
    if distance_m is None and "distance" in streams:
        covered = _with_values(streams["distance"])
        distance_m = float(covered[-1]) if covered.size else None
    return RecordedSession(
        key=key,
        sport=str(summary.sport),
        start=start,
        duration_s=round(float(duration_s)),
        name=getattr(summary, "name", None) or "",
        tags=(),
        status="completed",
        sample_seed=0,
        with_streams=elapsed.size > 0,
        recorded=streams,
        recorded_distance_m=None if distance_m is None else round(float(distance_m), 1),
    )


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
