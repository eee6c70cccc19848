"""A stateful mock of SweatStack's activity API, served as a Litestar app.

Faithful to the documented contract (docs "Activities") and to what the official `sweatstack`
client 0.97.0 sends and validates: repeated query keys, `YYYY-MM-DD` dates, offset-aware
`start`/`end` in the athlete's local offset, naive `*_local`, ISO 8601 durations, Parquet time
series, FastAPI-style `{"detail": ...}` errors and an `x-request-id` on every response.

State is plain data (`SweatStackMock.activities`), seeded deterministically from `seed` for
two athletes, so tests can add activities and prove that users never see each other's data.
Summaries and laps are computed from the synthetic 1 Hz streams the first time they are asked
for, so starting a mock stays cheap.

Beyond activities and their data:
- `GET /api/v1/activities/{id}/mean-max` computes the curve the straightforward way
  (`models.mean_max.on_one_hz_grid` + `mean_max_reference`), so the gateway's fast
  implementation can be checked against it.
- `POST /api/v1/activities/upload` takes up to `max_upload_files` FIT files (multipart field
  `files`), answers 202 with one `SourceResponse` each and decodes them in the background
  (`models.fit.decode_fit`) into activities with the recorded samples. SweatStack documents no
  endpoint to read a source back, so the mock does not invent one: tests read
  `SweatStackMock.sources` (or `source_response(id)`), whose status moves from "processing" to
  "processed" (with the activity id) or "failed" (with an error).
- `GET /api/v1/activities/backfill-status` streams NDJSON: a line every `backfill_interval_s`
  whose `backfill_loaded_until` moves from the newest activity's start towards the oldest's,
  `backfill_step` activities per line, closing after `backfill_window_s` (3 s and 60 s, as
  documented; tests shorten both). Progress is kept per user across connections; with
  `backfill_error` set, the stream sends `{"error": ...}` instead and closes.

Where SweatStack's documentation is silent the mock chooses, and says so: a mean-max of a
metric the activity did not record is a 422 (as segmenting on it is); an activity without
samples (a FIT file with no records) serves a data table with no rows; a file is taken as FIT
when its header says so, whatever its name.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
import threading
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cached_property
from typing import Any, Literal, Protocol

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from litestar import Controller, Litestar, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import Stream
from open_sport_taxonomy import Sport

from training_gateway.adapters._mock import (
    FaultInjector,
    SyntheticSession,
    TokenIssuer,
    TokenRejected,
    synthesize_history,
)
from training_gateway.adapters._mock.oauth import SWEATSTACK_PATHS, AuthorizationServer
from training_gateway.adapters.sweatstack import mapping, timeseries, wire
from training_gateway.models.errors import InvalidInput
from training_gateway.models.mean_max import DEFAULT_DURATIONS_S
from training_gateway.models.sport import sport_matches

ISSUER = "https://app.sweatstack.no"
DEFAULT_SCOPE = "openid profile email activities:read offline_access"
DEFAULT_LIST_LIMIT = 50
DEFAULT_DATA_METRICS = ("duration", "power", "speed", "heart_rate")
#: Every metric name SweatStack knows (the client's `Metric` enum).
KNOWN_METRICS = (
    "duration", "lap", "power", "speed", "heart_rate", "respiration_rate", "smo2",
    "core_temperature", "elevation", "altitude", "cadence", "temperature", "distance",
    "longitude", "latitude", "lactate", "rpe", "notes",
)  # fmt: skip
#: Recorded stream metrics, in the order an activity lists them.
STREAM_METRICS = (
    "power", "speed", "heart_rate", "cadence", "distance", "altitude", "latitude", "longitude",
)  # fmt: skip
SEGMENTATION_METRICS = ("power", "speed")
MEAN_MAX_METRICS = timeseries.MEAN_MAX_METRICS
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
NDJSON_MEDIA_TYPE = "application/x-ndjson"
MAX_UPLOAD_FILES = 10
BACKFILL_INTERVAL_S = 3.0
BACKFILL_WINDOW_S = 60.0
BACKFILL_STEP = 5
UPLOAD_ORIGIN = "manual_upload"

_DEVICES = {
    "cycling": ("Wahoo ELEMNT BOLT", "Garmin HRM-Pro Plus", "Favero Assioma Duo"),
    "running": ("Garmin Forerunner 965", "Garmin HRM-Pro Plus"),
    "swimming": ("Garmin Forerunner 965",),
    "walking": ("Garmin fenix 7",),
}
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# OST string syntax: dotted lowercase atoms with single inner underscores, then `+modifier`s.
_ATOM = "[a-z]+(?:_[a-z]+)*"
_WELL_FORMED_SPORT = re.compile(rf"{_ATOM}(?:\.{_ATOM})*(?:\+{_ATOM})*")
_USERS_SINCE = datetime(2024, 3, 1, tzinfo=UTC)


def ulid_like(moment: datetime, *salt: object) -> str:
    """26 Crockford base32 characters: 48 bits of milliseconds at `moment`, 80 from `salt`."""
    millis = int(moment.timestamp() * 1000) & ((1 << 48) - 1)
    digest = hashlib.blake2b("\x1f".join(map(str, salt)).encode(), digest_size=10).digest()
    value = (millis << 80) | int.from_bytes(digest, "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def seeded_user_id(history_seed: int) -> str:
    """The id of the athlete whose history `synthesize_history(history_seed)` generates."""
    return "usr_" + ulid_like(
        _USERS_SINCE + timedelta(days=history_seed % 365), "user", history_seed
    )


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


def is_fit(content: bytes) -> bool:
    """Whether `content` starts with a FIT file header (12 or 14 bytes, `.FIT` at 8)."""
    return len(content) >= 12 and content[0] in (12, 14) and content[8:12] == b".FIT"


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


# --- the mock's state ---------------------------------------------------------------------


class SweatStackMock:
    """SweatStack's activity API with two seeded athletes; implements `MockProvider`.

    `activities` (by id), `user_ids`, `tokens` (the `TokenIssuer`) and `faults` (the
    `FaultInjector` around the app) are public so tests can inspect and change the state, as
    are `sources` (uploads by source id), `max_upload_files` and the backfill settings
    `backfill_interval_s`, `backfill_window_s`, `backfill_step`, `backfill_loaded` (progress
    per user) and `backfill_error`.
    """

    name = "sweatstack"

    def __init__(
        self,
        seed: int = 0,
        *,
        today: date | None = None,
        tokens: TokenIssuer | None = None,
        history_days: int = 90,
    ) -> None:
        self.seed = seed
        self.tokens = tokens or TokenIssuer(ISSUER)
        self.activities: dict[str, StoredActivity] = {}
        #: Uploaded files by source id (SweatStack has no documented endpoint to read them).
        self.sources: dict[str, StoredSource] = {}
        self.max_upload_files = MAX_UPLOAD_FILES
        #: Seconds between backfill status lines, and how long a backfill stream stays open.
        self.backfill_interval_s = BACKFILL_INTERVAL_S
        self.backfill_window_s = BACKFILL_WINDOW_S
        #: Activities the backfill loads between two status lines.
        self.backfill_step = BACKFILL_STEP
        #: How many of each user's activities (newest first) the backfill has loaded.
        self.backfill_loaded: dict[str, int] = {}
        #: When set, backfill streams answer `{"error": backfill_error}` and close.
        self.backfill_error: str | None = None
        self._lock = threading.RLock()
        self.user_ids: tuple[str, ...] = (seeded_user_id(seed), seeded_user_id(seed + 1))
        for offset, user_id in enumerate(self.user_ids):
            days = history_days if offset == 0 else 90
            for session in synthesize_history(seed + offset, today=today, days=days):
                if session.status == "completed":
                    self.add_session(session, user=user_id)
        #: The OAuth2/OpenID Connect authorization server, at the paths the SDK uses.
        self.auth = AuthorizationServer(
            self.tokens,
            paths=SWEATSTACK_PATHS,
            openid=True,
            users=lambda: self.user_ids,
            user_claims=self.user_claims,
            default_scope=DEFAULT_SCOPE,
            # The SDK's oauth.exchange_code sends no redirect_uri, and works against SweatStack.
            token_redirect_uri_required=False,
        )
        from training_gateway.adapters.sweatstack.mock_tests import TestsState

        #: Lab tests (the Tests API): `tests_state.tests` by id, hooks to interleave writes.
        self.tests_state = TestsState()
        self.tests_state.seed(self.user_ids, seed, today)
        self.faults = FaultInjector(create_app(self))
        self._app = RequestIds(self.faults)

    @property
    def default_user(self) -> str:
        return self.user_ids[0]

    @property
    def other_user(self) -> str:
        return self.user_ids[1]

    def asgi_app(self) -> Any:
        """The ASGI app: request ids around fault injection around the Litestar app."""
        return self._app

    def user_claims(self, user: str) -> dict[str, Any]:
        """What userinfo (and the ID token) say of a seeded athlete."""
        number = self.user_ids.index(user) + 1 if user in self.user_ids else 0
        return {
            "name": f"Athlete {number}",
            "given_name": "Athlete",
            "family_name": str(number),
            "email": f"athlete{number}.{self.seed}@example.com",
            "registered_at": "2024-01-01T00:00:00Z",
        }

    def token_for(
        self, user: str | None = None, *, ttl_s: int | None = None, client_id: str | None = None
    ) -> str:
        """A signed access token whose `sub` is `user` (the default athlete when None); with
        `client_id`, an app's token (as the OAuth flow issues them)."""
        subject = user or self.default_user
        if subject not in self.user_ids:
            raise KeyError(f"unknown SweatStack mock user {subject!r}")
        claims = {"client_id": client_id} if client_id else {}
        return self.tokens.issue(subject, ttl_s=ttl_s, scope=DEFAULT_SCOPE, **claims)

    def add_session(
        self,
        session: SyntheticSession,
        *,
        user: str | None = None,
        activity_id: str | None = None,
        source_id: str | None = None,
        devices: tuple[str, ...] | None = None,
    ) -> StoredActivity:
        """Store a completed session as an activity of `user` (the default athlete when None).

        A user id the mock does not know yet becomes a user (with `token_for` working for it).
        `source_id` and `devices` default to ones derived from the session.
        """
        if session.status != "completed":
            raise ValueError("SweatStack only holds recorded (completed) activities")
        if session.start.tzinfo is None:
            raise ValueError("a session's start must carry the athlete's UTC offset")
        user_id = user or self.default_user
        activity_id = activity_id or "act_" + ulid_like(session.start, user_id, session.key)
        stored = StoredActivity(
            id=activity_id,
            user_id=user_id,
            source_id=source_id or "src_" + ulid_like(session.end, "source", user_id, session.key),
            session=session,
            devices=devices if devices is not None else _DEVICES.get(session.family, ()),
        )
        with self._lock:
            if activity_id in self.activities:
                raise ValueError(f"activity {activity_id!r} already exists")
            if user_id not in self.user_ids:
                self.user_ids = (*self.user_ids, user_id)
            self.activities[stored.id] = stored
        return stored

    def add_recording(
        self,
        summary: Any,
        records: pa.Table,
        *,
        user: str | None = None,
        source_id: str | None = None,
    ) -> StoredActivity:
        """Store a decoded file (`models.fit.decode_fit`'s summary and unified records table)
        as an activity with the recorded samples.

        From the summary it takes `sport` and `start`, and when present `start_local` (for
        the athlete's offset, else the records' `timestamp_local`), `elapsed_s` (else the
        records' span) and `distance_m` (else the records' last distance).
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
        user_id = user or self.default_user
        key = source_id or f"recorded-{len(self.activities)}"
        session = RecordedSession(
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
        return self.add_session(
            session,
            user=user_id,
            activity_id="act_" + ulid_like(start, "recorded", user_id, key),
            source_id=source_id,
            devices=(),
        )

    # -- uploads -------------------------------------------------------------------------

    def accept_upload(self, user: str, filename: str | None) -> StoredSource:
        """A new source in "processing" for a file `user` uploaded."""
        now = datetime.now(UTC).replace(microsecond=0)
        with self._lock:
            source = StoredSource(
                id="src_" + ulid_like(now, "upload", user, len(self.sources)),
                user_id=user,
                filename=filename,
                created_at=now,
            )
            self.sources[source.id] = source
        return source

    def process_upload(self, source_id: str, content: bytes) -> StoredSource:
        """Decode an uploaded file into an activity: the source becomes "processed" with the
        activity's id, or "failed" with an error (what the background processing does)."""
        source = self.sources[source_id]
        try:
            from training_gateway.models.fit import (
                decode_fit,  # the FIT decoder is only needed here
            )

            decoded = decode_fit(content, filename=source.filename or source.id)
            summary, records = (
                (decoded.summary, decoded.records) if hasattr(decoded, "records") else decoded
            )
            stored = self.add_recording(summary, records, user=source.user_id, source_id=source.id)
        except InvalidInput as exc:
            self._fail(source, "invalid_file", exc.detail)
        except Exception as exc:  # whatever broke, SweatStack reports a failed source
            self._fail(source, "processing_error", f"{type(exc).__name__}: {exc}")
        else:
            with self._lock:
                source.activity_ids = [stored.id]
                source.status = "processed"
        return source

    def _fail(self, source: StoredSource, code: str, message: str) -> None:
        with self._lock:
            source.error = wire.SourceError(code=code, message=message)
            source.status = "failed"

    def source_response(self, source_id: str) -> wire.SourceResponse:
        """A source as SweatStack describes it (KeyError for an unknown id)."""
        with self._lock:
            return self.sources[source_id].response

    # -- backfill ------------------------------------------------------------------------

    def advance_backfill(self, user: str) -> datetime | None:
        """Load the next `backfill_step` of `user`'s activities (the newest alone at first)
        and say how far back the backfill now reaches (None when the user has none)."""
        starts = [stored.start for stored in self.activities_of(user)]
        with self._lock:
            loaded = self.backfill_loaded.get(user, 0)
            loaded = min(len(starts), 1 if loaded == 0 else loaded + self.backfill_step)
            self.backfill_loaded[user] = loaded
        return starts[loaded - 1].astimezone(UTC) if loaded else None

    async def backfill_lines(self, user: str) -> AsyncIterator[bytes]:
        """The backfill stream of `user`: NDJSON lines every `backfill_interval_s`, for
        `backfill_window_s` seconds."""
        deadline = time.monotonic() + self.backfill_window_s
        while True:
            if self.backfill_error is not None:
                yield msgspec.json.encode(wire.BackfillError(error=self.backfill_error)) + b"\n"
                return
            status = wire.BackfillStatus(backfill_loaded_until=self.advance_backfill(user))
            yield msgspec.json.encode(status) + b"\n"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(self.backfill_interval_s, remaining))
            if time.monotonic() >= deadline:
                return

    def add_activity(
        self,
        *,
        sport: str,
        start: datetime,
        duration_s: int,
        tags: Iterable[str] = (),
        user: str | None = None,
        activity_id: str | None = None,
        lap_every_s: int = 600,
    ) -> StoredActivity:
        """Record a new activity with deterministic synthetic samples; `start` must be aware."""
        if duration_s < 1 or lap_every_s < 1:
            raise ValueError("an activity lasts at least a second, and so does a lap")
        key = f"added-{len(self.activities)}"
        sample_seed = int.from_bytes(
            hashlib.blake2b(f"{self.seed}:{key}".encode(), digest_size=4).digest()
        )
        session = SyntheticSession(
            key=key,
            sport=sport,
            start=start,
            duration_s=duration_s,
            name="",
            tags=tuple(sorted(set(tags))),
            status="completed",
            sample_seed=sample_seed,
            lap_every_s=lap_every_s,
        )
        return self.add_session(session, user=user, activity_id=activity_id)

    def activities_of(
        self,
        user_id: str,
        *,
        start: date | datetime | None = None,
        end: date | datetime | None = None,
        sports: Sequence[Sport] = (),
        tags: Sequence[str] = (),
    ) -> list[StoredActivity]:
        """A user's matching activities, newest first, ties broken by id ascending."""
        wanted_tags = set(tags)
        with self._lock:  # uploads are processed on another thread
            stored_now = list(self.activities.values())
        found = [
            stored
            for stored in stored_now
            if stored.user_id == user_id
            and _on_or_after(stored, start)
            and _on_or_before(stored, end)
            and sport_matches(stored.sport, sports)
            and wanted_tags <= set(stored.tags)
        ]
        found.sort(key=lambda stored: stored.id)
        found.sort(key=lambda stored: stored.start, reverse=True)
        return found


class Dated(Protocol):
    """A stored record with an instant and its local wall clock (an activity or a test)."""

    @property
    def start(self) -> datetime: ...

    @property
    def start_local(self) -> datetime: ...


def _on_or_after(stored: Dated, bound: date | datetime | None) -> bool:
    if bound is None:
        return True
    if isinstance(bound, datetime):
        return stored.start >= bound if bound.tzinfo else stored.start_local >= bound
    return stored.start_local.date() >= bound


def _on_or_before(stored: Dated, bound: date | datetime | None) -> bool:
    if bound is None:
        return True
    if isinstance(bound, datetime):
        return stored.start <= bound if bound.tzinfo else stored.start_local <= bound
    return stored.start_local.date() <= bound


# --- HTTP ---------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer in FastAPI's shape: `{"detail": ...}` with `status`."""

    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail
        self.headers = headers or {}


class QueryParams:
    """Reads query parameters the way FastAPI validates them, collecting every error as a 422."""

    def __init__(self, request: Request[Any, Any, Any]) -> None:
        self._params = request.query_params
        self.errors: list[dict[str, Any]] = []

    def _error(self, name: str, kind: str, msg: str, raw: Any, **ctx: Any) -> None:
        error: dict[str, Any] = {"type": kind, "loc": ["query", name], "msg": msg, "input": raw}
        if ctx:
            error["ctx"] = ctx
        self.errors.append(error)

    def strings(self, *names: str, split: bool = False) -> list[str]:
        """Every value of the repeatable parameters `names`; comma-joined values split if asked."""
        values = [value for name in names for value in self._params.getall(name, [])]
        if split:
            values = [part.strip() for value in values for part in value.split(",")]
        return [value for value in values if value]

    def integer(self, name: str, default: int, *, ge: int) -> int:
        raw = self._params.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self._error(
                name,
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
                raw,
            )
            return default
        if value < ge:
            self._error(
                name,
                "greater_than_equal",
                f"Input should be greater than or equal to {ge}",
                raw,
                ge=ge,
            )
            return default
        return value

    def moment(self, name: str) -> date | datetime | None:
        """A `YYYY-MM-DD` date, or a full ISO 8601 datetime."""
        raw = self._params.get(name)
        if raw is None:
            return None
        try:
            return date.fromisoformat(raw) if len(raw) == 10 else datetime.fromisoformat(raw)
        except ValueError:
            self._error(
                name, "date_parsing", "Input should be a valid date or datetime (YYYY-MM-DD)", raw
            )
            return None

    def sports(self) -> list[Sport]:
        """`sport` (repeatable) and the legacy comma-joined `sports`.

        Well-formed unknown sports are accepted and match only themselves and their
        sub-sports, as SweatStack keeps unknown OST strings; malformed ones are a 422.
        """
        parsed: list[Sport] = []
        for raw in self.strings("sport", "sports", split=True):
            if not _WELL_FORMED_SPORT.fullmatch(raw):
                self._error("sport", "value_error", f"Value error, malformed sport {raw!r}", raw)
                continue
            parsed.append(Sport.parse(raw))
        return parsed

    def choice(self, names: Sequence[str], allowed: Sequence[str]) -> str | None:
        """The first of `names` present, which must be one of `allowed`."""
        for name in names:
            raw = self._params.get(name)
            if raw is None:
                continue
            if raw not in allowed:
                self._error(name, "enum", _enum_message(allowed), raw, expected=_enum_list(allowed))
                return None
            return raw
        return None

    def required_choice(self, name: str, allowed: Sequence[str]) -> str | None:
        """A required parameter that must be one of `allowed`."""
        if self._params.get(name) is None:
            self._error(name, "missing", "Field required", None)
            return None
        return self.choice((name,), allowed)

    def durations(self, name: str = "durations") -> Sequence[int] | Literal["all"] | None:
        """Mean-max durations: `all`, or comma-separated whole seconds (at least 1)."""
        raw = self._params.get(name)
        if raw is None:
            return None
        if raw.strip() == "all":
            return "all"
        parts = [part.strip() for part in raw.split(",")]
        if parts and all(part.isascii() and part.isdigit() and int(part) >= 1 for part in parts):
            return [int(part) for part in parts]
        self._error(
            name,
            "value_error",
            "Value error, durations must be 'all' or comma-separated whole seconds (at least 1)",
            raw,
        )
        return None

    def metrics(self, default: Sequence[str]) -> list[str]:
        requested = self.strings("metrics", split=True) or list(default)
        for raw in requested:
            if raw not in KNOWN_METRICS:
                self._error("metrics", "enum", _enum_message(KNOWN_METRICS), raw)
        return list(dict.fromkeys(name for name in requested if name in KNOWN_METRICS))

    def check(self) -> None:
        if self.errors:
            raise ApiError(422, self.errors)


def _enum_list(allowed: Sequence[str]) -> str:
    quoted = [f"'{value}'" for value in allowed]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def _enum_message(allowed: Sequence[str]) -> str:
    return f"Input should be {_enum_list(allowed)}"


def _json(value: Any) -> Response[bytes]:
    return Response(content=msgspec.json.encode(value), media_type="application/json")


def verified_claims(request: Request[Any, Any, Any], store: SweatStackMock) -> dict[str, Any]:
    """The claims of the request's bearer token; 401 for a missing, bad or expired token."""
    try:
        return store.tokens.verify_authorization(request.headers.get("authorization"))
    except TokenRejected as exc:
        detail = (
            "Not authenticated"
            if "missing" in str(exc)
            else f"Could not validate credentials: {exc}"
        )
        raise ApiError(401, detail, {"WWW-Authenticate": "Bearer"}) from None


def provide_caller(request: Request[Any, Any, Any], store: NamedDependency[SweatStackMock]) -> str:
    """The user id the bearer token was issued to; 401 for a missing, bad or expired token."""
    return str(verified_claims(request, store)["sub"])


def _not_recorded(activity_id: str, parameter: str, metric: str) -> ApiError:
    return ApiError(
        422,
        [
            {
                "type": "value_error",
                "loc": ["query", parameter],
                "msg": f"Value error, activity {activity_id} has no {metric} data",
                "input": metric,
            }
        ],
    )


def _body_error(kind: str, loc: list[Any], msg: str, raw: Any, **ctx: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "loc": ["body", *loc], "msg": msg, "input": raw}
    if ctx:
        error["ctx"] = ctx
    return error


async def _uploaded_files(
    request: Request[Any, Any, Any], limit: int
) -> list[tuple[str | None, bytes]]:
    """The multipart `files` parts as (filename, content); 422 unless 1 to `limit` FIT files."""
    form = await request.form()
    parts = form.getall("files", [])
    if not parts:
        raise ApiError(422, [_body_error("missing", ["files"], "Field required", None)])
    if len(parts) > limit:
        raise ApiError(
            422,
            [
                _body_error(
                    "too_long",
                    ["files"],
                    f"List should have at most {limit} items after validation, not {len(parts)}",
                    f"{len(parts)} files",
                    field_type="List",
                    max_length=limit,
                    actual_length=len(parts),
                )
            ],
        )
    files: list[tuple[str | None, bytes]] = []
    errors: list[dict[str, Any]] = []
    for index, part in enumerate(parts):
        if not isinstance(part, UploadFile):
            errors.append(
                _body_error(
                    "value_error",
                    ["files", index],
                    "Value error, Expected UploadFile, received: <class 'str'>",
                    str(part),
                )
            )
            continue
        content = await part.read()
        if not is_fit(content):
            errors.append(
                _body_error(
                    "value_error",
                    ["files", index],
                    f"Value error, {part.filename or 'file ' + str(index)} is not a FIT file; "
                    "only .fit files are supported",
                    part.filename,
                )
            )
        files.append((part.filename or None, content))
    if errors:
        raise ApiError(422, errors)
    return files


def _owned(
    store: NamedDependency[SweatStackMock], caller: NamedDependency[str], activity_id: str
) -> StoredActivity:
    stored = store.activities.get(activity_id)
    if stored is None or stored.user_id != caller:  # another user's activity does not exist
        raise ApiError(404, f"Activity {activity_id} not found")
    return stored


class ActivitiesController(Controller):
    """`/api/v1/activities`: list, latest, details, time series, mean-max, upload, backfill."""

    path = "/api/v1/activities"
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get(["/", ""])
    async def list_activities(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[SweatStackMock],
        caller: NamedDependency[str],
    ) -> Response[bytes]:
        """The caller's activity summaries, newest first, paged by `limit`/`offset`."""
        query = QueryParams(request)
        start, end = query.moment("start"), query.moment("end")
        sports = query.sports()
        tags = query.strings("tags")
        limit = query.integer("limit", DEFAULT_LIST_LIMIT, ge=1)
        offset = query.integer("offset", 0, ge=0)
        query.check()
        found = store.activities_of(caller, start=start, end=end, sports=sports, tags=tags)
        page = found[offset : offset + limit]
        return _json([wire.to_json_object(stored.list_item) for stored in page])

    @get("/latest")
    async def latest_activity(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[SweatStackMock],
        caller: NamedDependency[str],
    ) -> Response[bytes]:
        """The caller's newest activity (optionally of a sport), or `null`."""
        query = QueryParams(request)
        sports = query.sports()
        query.check()
        found = store.activities_of(caller, sports=sports)
        return _json(wire.to_json_object(found[0].details) if found else None)

    @get("/{activity_id:str}")
    async def activity_details(
        self,
        store: NamedDependency[SweatStackMock],
        caller: NamedDependency[str],
        activity_id: FromPath[str],
    ) -> Response[bytes]:
        """One of the caller's activities; 404 when unknown or someone else's."""
        return _json(wire.to_json_object(_owned(store, caller, activity_id).details))

    @get("/{activity_id:str}/data")
    async def activity_data(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[SweatStackMock],
        caller: NamedDependency[str],
        activity_id: FromPath[str],
    ) -> Response[bytes]:
        """The activity's samples as Parquet, optionally segmented on power or speed."""
        stored = _owned(store, caller, activity_id)
        query = QueryParams(request)
        metrics = query.metrics(DEFAULT_DATA_METRICS)
        segmentation_on = query.choice(
            ("segmentation_on", "nlec_on", "adaptive_sampling_on"), SEGMENTATION_METRICS
        )
        query.check()
        recorded = stored.recorded_metrics
        if segmentation_on is not None and segmentation_on not in recorded:
            raise _not_recorded(activity_id, "segmentation_on", segmentation_on)
        columns = [name for name in metrics if name == "duration" or name in recorded]
        table = timeseries.activity_table(
            stored.start, stored.session.streams, columns, segmentation_on=segmentation_on
        )
        return Response(content=timeseries.to_parquet(table), media_type=PARQUET_MEDIA_TYPE)

    @get("/{activity_id:str}/mean-max")
    async def activity_mean_max(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[SweatStackMock],
        caller: NamedDependency[str],
        activity_id: FromPath[str],
    ) -> Response[bytes]:
        """The activity's mean-max curve of power or speed as Parquet, one row per duration
        (the default 19-duration grid, `all`, or the given ones) the activity lasted."""
        stored = _owned(store, caller, activity_id)
        query = QueryParams(request)
        metric = query.required_choice("metric", MEAN_MAX_METRICS)
        durations = query.durations()
        query.check()
        assert metric is not None  # check() raised otherwise
        if metric not in stored.recorded_metrics:
            raise _not_recorded(activity_id, "metric", metric)
        streams = stored.session.streams
        table = timeseries.mean_max_table(
            stored.start,
            streams["elapsed_s"],
            streams[metric],
            metric,
            DEFAULT_DURATIONS_S if durations is None else durations,
        )
        return Response(content=timeseries.to_parquet(table), media_type=PARQUET_MEDIA_TYPE)

    @post("/upload", status_code=202)
    async def upload(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[SweatStackMock],
        caller: NamedDependency[str],
    ) -> Response[bytes]:
        """Accept up to `max_upload_files` FIT files; they are decoded after the answer."""
        files = await _uploaded_files(request, store.max_upload_files)
        accepted = [(store.accept_upload(caller, name), content) for name, content in files]
        return Response(
            content=msgspec.json.encode(
                wire.UploadResponse(sources=[source.response for source, _ in accepted])
            ),
            status_code=202,
            media_type="application/json",
            background=BackgroundTask(_process_uploads, store, accepted),
        )

    @get("/backfill-status")
    async def backfill_status(
        self, store: NamedDependency[SweatStackMock], caller: NamedDependency[str]
    ) -> Stream:
        """NDJSON `{"backfill_loaded_until": ...}` lines every few seconds, for a minute."""
        return Stream(store.backfill_lines(caller), media_type=NDJSON_MEDIA_TYPE)


def _process_uploads(store: SweatStackMock, accepted: Sequence[tuple[StoredSource, bytes]]) -> None:
    for source, content in accepted:
        store.process_upload(source.id, content)


def _detail_response(status: int, detail: Any, headers: Any = None) -> Response[bytes]:
    """An error in FastAPI's shape: `{"detail": ...}`."""
    return Response(
        content=msgspec.json.encode({"detail": detail}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _api_error_response(_: Request[Any, Any, Any], exc: ApiError) -> Response[bytes]:
    return _detail_response(exc.status, exc.detail, exc.headers)


def _http_exception_response(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    return _detail_response(exc.status_code, exc.detail, exc.headers)


def _internal_error_response(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    return _detail_response(500, "Internal Server Error")


def create_app(mock: SweatStackMock) -> Litestar:
    """The Litestar app serving `mock`'s state."""

    from training_gateway.adapters.sweatstack.mock_tests import TestsController

    def provide_store() -> SweatStackMock:
        return mock

    return Litestar(
        route_handlers=[ActivitiesController, TestsController, *mock.auth.route_handlers()],
        signature_namespace={"SweatStackMock": SweatStackMock},
        dependencies={"store": Provide(provide_store, sync_to_thread=False)},
        exception_handlers={
            ApiError: _api_error_response,
            HTTPException: _http_exception_response,
            Exception: _internal_error_response,
        },
        openapi_config=None,
        logging_config=None,  # a mock must not reconfigure the host process's logging
    )


class RequestIds:
    """ASGI wrapper: every HTTP response carries an `x-request-id` (the caller's, or a new one)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._counter = itertools.count(1)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers", [])).get(b"x-request-id")
        request_id = incoming or f"req_{next(self._counter):012d}".encode()

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    pair
                    for pair in message.get("headers", [])
                    if pair[0].lower() != b"x-request-id"
                ]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id)]}
            await send(message)

        await self.app(scope, receive, send_with_id)
