"""A stateful mock of SweatStack's activity API, served as a Litestar app.

Faithful to the documented contract (docs "Activities") and to what the official `sweatstack`
client 0.97.0 sends and validates: repeated query keys, `YYYY-MM-DD` dates, offset-aware
`start`/`end` in the athlete's local offset, naive `*_local`, ISO 8601 durations, Parquet time
series, FastAPI-style `{"detail": ...}` errors and an `x-request-id` on every response.

State is plain data (`SweatStackMock.activities`), seeded deterministically from `seed` for
two athletes, so tests can add activities and prove that users never see each other's data.
Summaries and laps are computed from the synthetic 1 Hz streams the first time they are asked
for, so starting a mock stays cheap.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any

import msgspec
import numpy as np
from litestar import Controller, Litestar, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from open_sport_taxonomy import Sport

from adapters._mock import (
    FaultInjector,
    SyntheticSession,
    TokenIssuer,
    TokenRejected,
    synthesize_history,
)
from adapters.sweatstack import mapping, timeseries, wire
from models.sport import sport_matches

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
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"

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


def summary_fields(streams: dict[str, np.ndarray], begin: int, end: int) -> dict[str, Any]:
    """SweatStack's per-metric aggregates over the samples `[begin, end)`."""
    fields: dict[str, Any] = {}
    window = {name: values[begin:end] for name, values in streams.items()}
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
    if "distance" in streams:
        cumulative = streams["distance"]
        before = float(cumulative[begin - 1]) if begin > 0 else 0.0
        fields["distance"] = wire.DistanceStats(sum=_rounded(cumulative[end - 1] - before, 1))
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
        summary = wire.SummaryMetrics(**summary_fields(streams, 0, session.duration_s))
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
            distance=summary.distance.sum if summary.distance is not None else None,
            devices=list(self.devices),
        )

    @property
    def list_item(self) -> wire.ActivitySummary:
        """The activity as an item of `GET /api/v1/activities/`."""
        return mapping.details_as_summary(self.details)


# --- the mock's state ---------------------------------------------------------------------


class SweatStackMock:
    """SweatStack's activity API with two seeded athletes; implements `MockProvider`.

    `activities` (by id), `user_ids`, `tokens` (the `TokenIssuer`) and `faults` (the
    `FaultInjector` around the app) are public so tests can inspect and change the state.
    """

    name = "sweatstack"

    def __init__(
        self, seed: int = 0, *, today: date | None = None, tokens: TokenIssuer | None = None
    ) -> None:
        self.seed = seed
        self.tokens = tokens or TokenIssuer(ISSUER)
        self.activities: dict[str, StoredActivity] = {}
        self.user_ids: tuple[str, ...] = (seeded_user_id(seed), seeded_user_id(seed + 1))
        for offset, user_id in enumerate(self.user_ids):
            for session in synthesize_history(seed + offset, today=today):
                if session.status == "completed":
                    self.add_session(session, user=user_id)
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

    def token_for(self, user: str | None = None, *, ttl_s: int = 3600) -> str:
        """A signed access token whose `sub` is `user` (the default athlete when None)."""
        subject = user or self.default_user
        if subject not in self.user_ids:
            raise KeyError(f"unknown SweatStack mock user {subject!r}")
        return self.tokens.issue(subject, ttl_s=ttl_s, scope=DEFAULT_SCOPE)

    def add_session(
        self, session: SyntheticSession, *, user: str | None = None, activity_id: str | None = None
    ) -> StoredActivity:
        """Store a completed session as an activity of `user` (the default athlete when None).

        A user id the mock does not know yet becomes a user (with `token_for` working for it).
        """
        if session.status != "completed":
            raise ValueError("SweatStack only holds recorded (completed) activities")
        if session.start.tzinfo is None:
            raise ValueError("a session's start must carry the athlete's UTC offset")
        user_id = user or self.default_user
        activity_id = activity_id or "act_" + ulid_like(session.start, user_id, session.key)
        if activity_id in self.activities:
            raise ValueError(f"activity {activity_id!r} already exists")
        if user_id not in self.user_ids:
            self.user_ids = (*self.user_ids, user_id)
        stored = StoredActivity(
            id=activity_id,
            user_id=user_id,
            source_id="src_" + ulid_like(session.end, "source", user_id, session.key),
            session=session,
            devices=_DEVICES.get(session.family, ()),
        )
        self.activities[stored.id] = stored
        return stored

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
        found = [
            stored
            for stored in self.activities.values()
            if stored.user_id == user_id
            and _on_or_after(stored, start)
            and _on_or_before(stored, end)
            and sport_matches(stored.sport, sports)
            and wanted_tags <= set(stored.tags)
        ]
        found.sort(key=lambda stored: stored.id)
        found.sort(key=lambda stored: stored.start, reverse=True)
        return found


def _on_or_after(stored: StoredActivity, bound: date | datetime | None) -> bool:
    if bound is None:
        return True
    if isinstance(bound, datetime):
        return stored.start >= bound if bound.tzinfo else stored.start_local >= bound
    return stored.start_local.date() >= bound


def _on_or_before(stored: StoredActivity, bound: date | datetime | None) -> bool:
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


def provide_caller(request: Request[Any, Any, Any], store: NamedDependency[SweatStackMock]) -> str:
    """The user id the bearer token was issued to; 401 for a missing, bad or expired token."""
    try:
        claims = store.tokens.verify_authorization(request.headers.get("authorization"))
    except TokenRejected as exc:
        detail = (
            "Not authenticated"
            if "missing" in str(exc)
            else f"Could not validate credentials: {exc}"
        )
        raise ApiError(401, detail, {"WWW-Authenticate": "Bearer"}) from None
    return str(claims["sub"])


def _owned(
    store: NamedDependency[SweatStackMock], caller: NamedDependency[str], activity_id: str
) -> StoredActivity:
    stored = store.activities.get(activity_id)
    if stored is None or stored.user_id != caller:  # another user's activity does not exist
        raise ApiError(404, f"Activity {activity_id} not found")
    return stored


class ActivitiesController(Controller):
    """`/api/v1/activities`: list, latest, details and time series."""

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
            raise ApiError(
                422,
                [
                    {
                        "type": "value_error",
                        "loc": ["query", "segmentation_on"],
                        "msg": f"Value error, activity {activity_id} has no {segmentation_on} data",
                        "input": segmentation_on,
                    }
                ],
            )
        columns = [name for name in metrics if name == "duration" or name in recorded]
        table = timeseries.activity_table(
            stored.start, stored.session.streams, columns, segmentation_on=segmentation_on
        )
        return Response(content=timeseries.to_parquet(table), media_type=PARQUET_MEDIA_TYPE)


def _api_error_response(_: Request[Any, Any, Any], exc: ApiError) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode({"detail": exc.detail}),
        status_code=exc.status,
        media_type="application/json",
        headers=exc.headers,
    )


def _http_exception_response(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode({"detail": exc.detail}),
        status_code=exc.status_code,
        media_type="application/json",
        headers=exc.headers,
    )


def _internal_error_response(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    return Response(
        content=b'{"detail":"Internal Server Error"}',
        status_code=500,
        media_type="application/json",
    )


def create_app(mock: SweatStackMock) -> Litestar:
    """The Litestar app serving `mock`'s state."""

    def provide_store() -> SweatStackMock:
        return mock

    return Litestar(
        route_handlers=[ActivitiesController],
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
