"""A stateful mock of Astral's Activities API (nexrex), faithful to its documented contract.

Three seeded users: the athlete (about 90 days of history plus planned sessions from
`synthesize_history(seed + 1000)`), a second athlete (isolation) and a coach who may read the
athlete. Tokens are RS256 JWTs whose `sub` is the user id. The state lives in plain attributes
of `AstralStore`; `AstralMock.add_activity` puts an activity in verbatim.

Where the spec is silent the mock chooses, and says so here:
- `limit` defaults to 50 and has no maximum; bad `limit`/`offset`/dates/filters answer 400.
- Bodies are decoded strictly: a wrong type, an unknown field or a value outside the documented
  set answers 422, as does a missing required field on create; malformed JSON answers 400.
- Another user's activity reads as 404 unless the caller coaches its owner; a coach may read,
  not write (403).
- `detail=true` and `image_urls=true` apply to the list; a single activity always carries its
  `image_urls`, and `include_streams` (get only) needs `detail=true`.
- `summary.duration_in_seconds` defaults to 0 and `summary.start_time_in_seconds` to the time
  of creation.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import msgspec
import numpy as np
from litestar import Controller, Litestar, Request, Response, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.params import FromPath

from training_gateway.adapters._mock import (
    FaultInjector,
    SyntheticSession,
    TokenIssuer,
    TokenRejected,
    synthesize_history,
)
from training_gateway.adapters._mock.oauth import ASTRAL_PATHS, AuthorizationServer
from training_gateway.adapters.astral.wire import (
    AstralActivity,
    AstralActivityBody,
    AstralErrorBody,
    AstralStatus,
    AstralSummary,
)

SEED_OFFSET: Final = 1000
"""The athlete's history is `synthesize_history(seed + SEED_OFFSET)` (SweatStack uses another)."""
SECOND_ATHLETE_SEED_OFFSET: Final = 2000
ISSUER: Final = "https://app.nexrex.ai"
DEFAULT_SCOPE: Final = "activities:read activities:write"
AGENT_NAME: Final = "Rex"
AI_MIN_DISTANCE_M: Final = 3000
DEFAULT_LIST_LIMIT: Final = 50
DETAIL_RESOLUTION_S: Final = 10
MAP_RESOLUTION_S: Final = 15
PLAN_WINDOW_DAYS: Final = 28

LIST_TYPES: Final[dict[str, str]] = {
    "run": "RUNNING",
    "bike": "CYCLING",
    "swim": "SWIMMING",
    "walk": "WALKING",
    "hike": "HIKING",
    "workout": "WORKOUT",
}
LISTABLE_STATUSES: Final = ("completed", "scheduled", "skipped")
_NOT_STORED_FROM_BODY: Final = ("summary", "user_id")  # summary merges field by field
_SEEDED_SOURCES: Final = ("garmin", "strava", "apple_watch")
_NAMES: Final = ("Jane Runner", "Ola Nordmann", "Kari Hansen", "Ines Duarte", "Tomas Ruiz")

_RAW_SERIES: Final = {
    "elapsed_s": "elapsed_in_seconds",
    "heart_rate": "heart_rate",
    "speed": "speed_in_meters_per_second",
    "distance": "distance_in_meters",
    "cadence": "cadence",
    "power": "power",
    "altitude": "altitude_in_meters",
    "latitude": "latitude",
    "longitude": "longitude",
}
_HR_MAX: Final = 188.0
_HR_ZONE_FRACTIONS: Final = (0.68, 0.78, 0.87, 0.93)
_PACE_ZONE_BOUNDS_S_PER_KM: Final = (260, 290, 330, 390)


class AstralApiError(Exception):
    """An error Astral answers as `{status: "error", message}`."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


@dataclass(frozen=True)
class AstralUser:
    """A seeded account; a coach may read the activities of the users in `coach_of`."""

    user_id: str
    email: str
    username: str
    coach_of: frozenset[str] = frozenset()


@dataclass
class StoredActivity:
    """One stored activity: the standardized object (with `image_urls` as a list) plus what
    only the store knows: its 1 Hz samples and Firestore timestamps."""

    activity: AstralActivity
    create_time: datetime
    update_time: datetime
    samples: Mapping[str, np.ndarray] | None = None


@dataclass(frozen=True)
class ListFilters:
    """The list endpoint's query, parsed."""

    owner: str
    statuses: frozenset[str] = frozenset(LISTABLE_STATUSES)
    start: datetime | None = None
    end: datetime | None = None
    activity_type: str | None = None
    plan_instance_id: str | None = None
    limit: int = DEFAULT_LIST_LIMIT
    offset: int = 0


@dataclass(frozen=True)
class RenderOptions:
    """How to answer an activity: raw document, with streams, with image URLs."""

    raw: bool = False
    detail: bool = False
    include_streams: bool = False
    image_urls: bool = True


def short_id(prefix: str, *parts: object) -> str:
    """A deterministic id such as `act_3f9a0c1b2d` from the parts."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=5).hexdigest()
    return f"{prefix}_{digest}"


class AstralStore:
    """Astral's state and rules, without HTTP: users, activities, training plans."""

    def __init__(self, seed: int, *, today: date | None = None, history_days: int = 90) -> None:
        self.seed = seed
        self.today = today or datetime.now(UTC).date()
        self.athlete = _seeded_user(seed, "athlete", 0)
        self.second_athlete = _seeded_user(seed, "second", 1)
        self.coach = AstralUser(
            user_id=short_id("usr", seed, "coach"),
            email=f"coach.{seed}@example.com",
            username="Coach Rex Fan",
            coach_of=frozenset({self.athlete.user_id}),
        )
        self.users: dict[str, AstralUser] = {
            user.user_id: user for user in (self.athlete, self.second_athlete, self.coach)
        }
        self.activities: dict[str, StoredActivity] = {}
        self.plans: dict[str, list[str]] = {}
        self._created = 0
        self._lock = threading.RLock()
        histories = (
            (self.athlete, seed + SEED_OFFSET, history_days, "a"),
            (self.second_athlete, seed + SECOND_ATHLETE_SEED_OFFSET, 30, "b"),
        )
        for user, history_seed, days, key_prefix in histories:
            for seeded in _seeded_history(seed, self.today, user, history_seed, days, key_prefix):
                self._put(dataclasses.replace(seeded))

    # -- reading ---------------------------------------------------------------------------

    def list(self, caller: str, filters: ListFilters) -> list[StoredActivity]:
        """A page of the owner's activities, newest first, ties by id."""
        self._require_read(caller, filters.owner)
        start_s = None if filters.start is None else filters.start.timestamp()
        end_s = None if filters.end is None else filters.end.timestamp()
        with self._lock:
            matching = [
                stored
                for stored in self.activities.values()
                if _matches(stored.activity, filters, start_s, end_s)
            ]
        matching.sort(
            key=lambda s: (-s.activity.summary.start_time_in_seconds, s.activity.activity_id)
        )
        return matching[filters.offset : filters.offset + filters.limit]

    def get(self, caller: str, activity_id: str) -> StoredActivity:
        """One activity the caller may read (its owner or their coach)."""
        with self._lock:
            stored = self.activities.get(activity_id)
        if stored is None or not self._may_read(caller, stored.activity.user_id):
            raise AstralApiError(404, f"Activity {activity_id} not found")
        return stored

    # -- writing ---------------------------------------------------------------------------

    def create(self, caller: str, body: AstralActivityBody) -> StoredActivity:
        """Log a new activity for the caller (a `user_id` in the body is ignored)."""
        _require_create_fields(body)
        now = datetime.now(UTC)
        with self._lock:
            defaults = AstralActivity(
                activity_id=self._next_id(),
                user_id=caller,
                status="completed",
                data_source="manual",
                summary=AstralSummary(
                    activity_name="",
                    activity_type="RUNNING",
                    duration_in_seconds=0,
                    start_time_in_seconds=int(now.timestamp()),
                ),
                image_urls=[],
            )
            return self._put(
                StoredActivity(activity=_apply(defaults, body), create_time=now, update_time=now)
            )

    def update(self, caller: str, activity_id: str, body: AstralActivityBody) -> StoredActivity:
        """Change only the fields the body carries; an explicit null clears an optional one."""
        with self._lock:
            stored = self._writable(caller, activity_id)
            stored.activity = _apply(stored.activity, body)
            stored.update_time = datetime.now(UTC)
        return stored

    def delete(self, caller: str, activity_id: str) -> None:
        """Delete an activity and take it out of its training plan."""
        with self._lock:
            stored = self._writable(caller, activity_id)
            del self.activities[activity_id]
            plan = stored.activity.plan_instance_id
            if plan is not None and activity_id in self.plans.get(plan, ()):
                self.plans[plan].remove(activity_id)

    def add(
        self, activity: AstralActivity, *, samples: Mapping[str, np.ndarray] | None = None
    ) -> StoredActivity:
        """Store an activity exactly as given (no AI summary is derived)."""
        if activity.image_urls is None:
            activity = msgspec.structs.replace(activity, image_urls=[])
        stamp = datetime.fromtimestamp(activity.summary.start_time_in_seconds, UTC)
        return self._put(
            StoredActivity(activity=activity, create_time=stamp, update_time=stamp, samples=samples)
        )

    def _put(self, stored: StoredActivity) -> StoredActivity:
        activity = stored.activity
        with self._lock:
            self.activities[activity.activity_id] = stored
            if activity.plan_instance_id is not None:
                self.plans.setdefault(activity.plan_instance_id, []).append(activity.activity_id)
        return stored

    # -- rules -----------------------------------------------------------------------------

    def _may_read(self, caller: str, owner: str) -> bool:
        user = self.users.get(caller)
        return caller == owner or (user is not None and owner in user.coach_of)

    def _require_read(self, caller: str, owner: str) -> None:
        if not self._may_read(caller, owner):
            raise AstralApiError(403, "Coach access is required to read another user's activities")

    def _writable(self, caller: str, activity_id: str) -> StoredActivity:
        stored = self.get(caller, activity_id)
        if stored.activity.user_id != caller:
            raise AstralApiError(403, "Only the athlete can change or delete their activities")
        return stored

    def _next_id(self) -> str:
        while True:
            self._created += 1
            activity_id = short_id("act", self.seed, "created", self._created)
            if activity_id not in self.activities:
                return activity_id


def _seeded_user(seed: int, label: str, index: int) -> AstralUser:
    username = _NAMES[(seed + index) % len(_NAMES)]
    handle = username.lower().replace(" ", ".")
    return AstralUser(
        user_id=short_id("usr", seed, label),
        email=f"{handle}.{seed}@example.com",
        username=username,
    )


@functools.lru_cache(maxsize=8)
def _seeded_history(
    seed: int, today: date, user: AstralUser, history_seed: int, days: int, key_prefix: str
) -> tuple[StoredActivity, ...]:
    """A user's seeded activities. Cached, so mocks of one seed share them and their samples:
    the store replaces an activity on update and never changes one in place."""
    sessions = synthesize_history(history_seed, days=days, today=today, key_prefix=key_prefix)
    plan_id = short_id("pln", seed, user.user_id)
    plan_from = today - timedelta(days=PLAN_WINDOW_DAYS)
    return tuple(
        _seeded_activity(
            session,
            user,
            short_id("act", seed, session.key),
            index,
            plan_id if session.start.date() >= plan_from else None,
        )
        for index, session in enumerate(sessions)
    )


def _seeded_status(session: SyntheticSession, index: int) -> AstralStatus:
    # The synthetic history rarely skips; Astral's also holds skipped and cancelled sessions.
    if session.status != "completed":
        return "skipped" if session.status == "skipped" else "scheduled"
    if index % 16 == 7:
        return "skipped"
    if index % 16 == 13:
        return "cancelled"
    return "completed"


def _seeded_type(session: SyntheticSession) -> str:
    if session.sport == "walking.hiking":
        return "HIKING"
    return {
        "running": "RUNNING",
        "cycling": "CYCLING",
        "swimming": "SWIMMING",
        "walking": "WALKING",
    }.get(session.family, "WORKOUT")


def _seeded_activity(
    session: SyntheticSession, user: AstralUser, activity_id: str, index: int, plan_id: str | None
) -> StoredActivity:
    status = _seeded_status(session, index)
    recorded = status == "completed"
    samples = session.streams if recorded else None
    activity_type = _seeded_type(session)
    if samples is not None:
        distance_m = round(float(samples["distance"][-1]))
    else:
        distance_m = round(float(session.extras.get("planned_distance_m", 0.0)))  # type: ignore[arg-type]
    end = session.end
    activity = AstralActivity(
        activity_id=activity_id,
        user_id=user.user_id,
        email=user.email,
        username=user.username,
        status=status,
        summary=AstralSummary(
            activity_name=session.name,
            activity_type=activity_type,
            duration_in_seconds=session.duration_s,
            distance_in_meters=distance_m,
            start_time_in_seconds=int(session.start.timestamp()),
        ),
        data_source=_SEEDED_SOURCES[index % len(_SEEDED_SOURCES)] if recorded else "manual",
        complete_date=int(end.timestamp()) * 1000,
        complete_date_str=end.isoformat(),
        zones=zones_of(samples, activity_type) if samples is not None else None,
        splits=splits_of(samples) if samples is not None else None,
        map=map_of(samples) if samples is not None else None,
        plan_instance_id=plan_id,
        image_urls=[f"https://cdn.nexrex.ai/activities/{activity_id}/photo-1.jpg"]
        if recorded and index % 4 == 0
        else [],
    )
    stamp = end.astimezone(UTC)
    return StoredActivity(
        activity=_with_rex(activity), create_time=stamp, update_time=stamp, samples=samples
    )


# -- applying a body -----------------------------------------------------------------------


def _require_create_fields(body: AstralActivityBody) -> None:
    given: list[tuple[str, object]] = [
        ("email", body.email),
        ("username", body.username),
        ("summary", body.summary),
    ]
    if not isinstance(body.summary, msgspec.UnsetType):
        given += [
            (f"summary.{name}", getattr(body.summary, name))
            for name in ("activity_name", "activity_type")
        ]
    missing = [name for name, value in given if value is msgspec.UNSET]
    if missing:
        raise AstralApiError(422, f"Missing required field(s): {', '.join(missing)}")


def _apply(activity: AstralActivity, body: AstralActivityBody) -> AstralActivity:
    """The activity with every field the body carries; Rex's summary follows the numbers."""
    changes: dict[str, Any] = {
        name: value
        for name in body.__struct_fields__
        if name not in _NOT_STORED_FROM_BODY and (value := getattr(body, name)) is not msgspec.UNSET
    }
    if not isinstance(body.summary, msgspec.UnsetType):
        summary_changes = {
            name: value
            for name in body.summary.__struct_fields__
            if (value := getattr(body.summary, name)) is not msgspec.UNSET
        }
        changes["summary"] = msgspec.structs.replace(activity.summary, **summary_changes)
    return _with_rex(msgspec.structs.replace(activity, **changes))


def _with_rex(activity: AstralActivity) -> AstralActivity:
    """Rex's summary for a completed activity of 3 km or more, none otherwise."""
    distance_m = activity.summary.distance_in_meters
    if activity.status != "completed" or distance_m is None or distance_m < AI_MIN_DISTANCE_M:
        return msgspec.structs.replace(
            activity, ai_summary=None, ai_summary_title=None, agent_name=None
        )
    title, summary = rex_summary(
        activity.summary.activity_type, distance_m, activity.summary.duration_in_seconds
    )
    return msgspec.structs.replace(
        activity, ai_summary=summary, ai_summary_title=title, agent_name=AGENT_NAME
    )


def rex_summary(activity_type: str, distance_m: int, duration_s: int) -> tuple[str, str]:
    """Rex's headline and summary, derived only from the numbers (so it is deterministic)."""
    km = distance_m / 1000
    noun = {"CYCLING": "ride", "SWIMMING": "swim", "WALKING": "walk", "HIKING": "hike"}.get(
        activity_type, "run"
    )
    effort = "Short" if duration_s < 45 * 60 else "Steady" if duration_s < 90 * 60 else "Long"
    title = f"{effort} {km:.1f} km {noun}"
    sentences = [f"You covered {km:.2f} km in {_clock(duration_s)}."]
    if duration_s > 0:
        if activity_type == "CYCLING":
            sentences.append(f"That is {km / (duration_s / 3600):.1f} km/h on average.")
        elif activity_type == "SWIMMING":
            sentences.append(
                f"Your average pace was {_clock(round(duration_s / (distance_m / 100)))} per 100 m."
            )
        else:
            sentences.append(f"Your average pace was {_clock(round(duration_s / km))} per km.")
    advice = {
        "Short": "Keep it easy tomorrow and let the legs absorb the work.",
        "Steady": "A solid aerobic session; fuel well and sleep well tonight.",
        "Long": "Big volume today: plan a recovery day and refuel within the hour.",
    }[effort]
    sentences.append(advice)
    return title, " ".join(sentences)


def _clock(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# -- derived parts from 1 Hz samples -------------------------------------------------------


def zones_of(samples: Mapping[str, np.ndarray], activity_type: str) -> dict[str, Any]:
    """Time in heart-rate zones, and in pace zones for runs, walks and hikes."""
    hr_bounds = [round(_HR_MAX * fraction) for fraction in _HR_ZONE_FRACTIONS]
    zones: dict[str, Any] = {"heart_rate": _buckets(samples["heart_rate"], hr_bounds)}
    if activity_type in ("RUNNING", "WALKING", "HIKING"):
        pace = _pace_s_per_km(samples["speed"])
        # Zone 1 is the easiest: the lowest heart rate, but the slowest (highest) pace.
        zones["pace"] = _buckets(pace[np.isfinite(pace)], _PACE_ZONE_BOUNDS_S_PER_KM)[::-1]
    for zone, bucket in enumerate(zones.get("pace", []), start=1):
        bucket["zone"] = zone
    return zones


def _buckets(values: np.ndarray, bounds: Sequence[int]) -> list[dict[str, Any]]:
    """Seconds with `lower <= value < upper` for consecutive bounds (None: unbounded)."""
    edges = [None, *bounds, None]
    counts = np.bincount(np.digitize(values, bounds), minlength=len(edges) - 1)
    return [
        {"zone": index + 1, "lower": edges[index], "upper": edges[index + 1], "seconds": int(count)}
        for index, count in enumerate(counts)
    ]


def _pace_s_per_km(speed_mps: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.where(speed_mps > 0.5, 1000.0 / np.maximum(speed_mps, 1e-9), np.inf)


def splits_of(samples: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Per-kilometre splits; the last one may be shorter."""
    distance = samples["distance"]
    marks = np.arange(1000.0, float(distance[-1]), 1000.0)
    edges = [0, *(int(i) + 1 for i in np.searchsorted(distance, marks)), len(distance)]
    altitude = samples.get("altitude")
    splits = []
    for index, (begin, stop) in enumerate(itertools.pairwise(edges), start=1):
        if stop <= begin:
            continue
        covered = float(distance[stop - 1]) - (float(distance[begin - 1]) if begin else 0.0)
        split: dict[str, Any] = {
            "index": index,
            "distance_in_meters": round(covered, 1),
            "duration_in_seconds": stop - begin,
            "average_heart_rate": round(float(samples["heart_rate"][begin:stop].mean())),
        }
        if altitude is not None:
            climb = np.diff(altitude[max(begin - 1, 0) : stop])
            split["elevation_gain_in_meters"] = round(float(climb[climb > 0].sum()), 1)
        splits.append(split)
    return {"unit": "km", "splits": splits}


def map_of(samples: Mapping[str, np.ndarray]) -> dict[str, Any] | None:
    """The route as an encoded polyline and bounding box; None without positions."""
    lat, lng = samples.get("latitude"), samples.get("longitude")
    if lat is None or lng is None:
        return None
    return {
        "polyline": encode_polyline(lat[::MAP_RESOLUTION_S], lng[::MAP_RESOLUTION_S]),
        "bounding_box": {
            "min_lat": float(lat.min()),
            "min_lng": float(lng.min()),
            "max_lat": float(lat.max()),
            "max_lng": float(lng.max()),
        },
    }


def encode_polyline(lat: Iterable[float], lng: Iterable[float]) -> str:
    """Google's encoded polyline format at 1e-5 precision."""
    chunks: list[str] = []
    previous = (0, 0)
    for point in zip(lat, lng, strict=True):
        current = (round(point[0] * 1e5), round(point[1] * 1e5))
        for delta in (current[0] - previous[0], current[1] - previous[1]):
            value = ~(delta << 1) if delta < 0 else delta << 1
            while value >= 0x20:
                chunks.append(chr((0x20 | (value & 0x1F)) + 63))
                value >>= 5
            chunks.append(chr(value + 63))
        previous = current
    return "".join(chunks)


def detail_streams(samples: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Heart rate, pace and elevation as 10 s means."""
    n = len(samples["heart_rate"]) // DETAIL_RESOLUTION_S * DETAIL_RESOLUTION_S

    def windows(values: np.ndarray) -> np.ndarray:
        head = values[:n].astype(float).reshape(-1, DETAIL_RESOLUTION_S).mean(axis=1)
        tail = values[n:]
        return np.append(head, tail.astype(float).mean()) if len(tail) else head

    pace = _pace_s_per_km(windows(samples["speed"]))
    series: dict[str, list[Any]] = {
        "heart_rate": [round(float(v)) for v in windows(samples["heart_rate"])],
        "pace_in_seconds_per_km": [round(float(v), 1) if np.isfinite(v) else None for v in pace],
    }
    if "altitude" in samples:
        series["elevation_in_meters"] = [round(float(v), 1) for v in windows(samples["altitude"])]
    return {"resolution_in_seconds": DETAIL_RESOLUTION_S, "series": series}


def raw_streams(samples: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Every recorded series at 1 s."""
    return {
        "resolution_in_seconds": 1,
        "series": {
            name: samples[key].tolist() for key, name in _RAW_SERIES.items() if key in samples
        },
    }


# -- rendering -----------------------------------------------------------------------------


def render(stored: StoredActivity, options: RenderOptions) -> Any:
    """An activity as the API answers it: standardized (with what the options add) or raw."""
    if options.raw:
        return firestore_document(stored)
    activity = stored.activity
    changes: dict[str, Any] = {}
    if not options.image_urls:
        changes["image_urls"] = None
    if options.detail and stored.samples is not None:
        changes["streams"] = detail_streams(stored.samples)
        if options.include_streams:
            changes["raw_streams"] = raw_streams(stored.samples)
    return msgspec.structs.replace(activity, **changes) if changes else activity


def firestore_document(stored: StoredActivity) -> dict[str, Any]:
    """The stored Firestore document behind an activity."""
    activity = stored.activity
    fields = msgspec.to_builtins(activity)
    fields.pop("activity_id")
    complete_date = fields.pop("complete_date", None)
    typed = {name: firestore_value(value) for name, value in fields.items()}
    if complete_date is not None:
        typed["complete_date"] = {
            "timestampValue": _rfc3339(datetime.fromtimestamp(complete_date / 1000, UTC))
        }
    return {
        "name": f"projects/nexrex-prod/databases/(default)/documents/users/{activity.user_id}"
        f"/activities/{activity.activity_id}",
        "fields": typed,
        "createTime": _rfc3339(stored.create_time),
        "updateTime": _rfc3339(stored.update_time),
    }


def firestore_value(value: Any) -> dict[str, Any]:
    """A JSON value as a Firestore typed value."""
    if value is None:
        return {"nullValue": None}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"integerValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [firestore_value(item) for item in value]}}
    if isinstance(value, dict):
        return {"mapValue": {"fields": {key: firestore_value(item) for key, item in value.items()}}}
    raise TypeError(f"no Firestore value for {type(value).__name__}")


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _matches(
    activity: AstralActivity, filters: ListFilters, start_s: float | None, end_s: float | None
) -> bool:
    started = activity.summary.start_time_in_seconds
    return (
        activity.user_id == filters.owner
        and activity.status in filters.statuses
        and (start_s is None or started >= start_s)
        and (end_s is None or started <= end_s)
        and (
            filters.activity_type is None or activity.summary.activity_type == filters.activity_type
        )
        and (
            filters.plan_instance_id is None
            or activity.plan_instance_id == filters.plan_instance_id
        )
    )


# -- HTTP ----------------------------------------------------------------------------------


def _flag(request: Request[Any, Any, Any], name: str) -> bool:
    return (request.query_params.get(name) or "").strip().lower() == "true"


def _raw_format(request: Request[Any, Any, Any]) -> bool:
    value = request.query_params.get("format")
    if value is None:
        return False
    if value != "raw":
        raise AstralApiError(400, f"format must be raw, not {value!r}")
    return True


def _non_negative(request: Request[Any, Any, Any], name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()):
        raise AstralApiError(400, f"{name} must be a non-negative integer, not {value!r}")
    return int(value)


def _moment(request: Request[Any, Any, Any], name: str) -> datetime | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise AstralApiError(
            400, f"{name} must be an ISO 8601 datetime such as 2025-01-01T00:00:00Z, not {value!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _statuses(request: Request[Any, Any, Any]) -> frozenset[str]:
    values = [
        part.strip() for raw in request.query_params.getall("status", []) for part in raw.split(",")
    ]
    values = [value for value in values if value]
    unknown = [value for value in values if value not in LISTABLE_STATUSES]
    if unknown:
        raise AstralApiError(
            400, f"status must be one of {', '.join(LISTABLE_STATUSES)}, not {unknown[0]!r}"
        )
    return frozenset(values or LISTABLE_STATUSES)


def _activity_type(request: Request[Any, Any, Any]) -> str | None:
    value = request.query_params.get("activity_type")
    if value is None:
        return None
    stored = LIST_TYPES.get(value)
    if stored is None:
        raise AstralApiError(
            400, f"activity_type must be one of: {', '.join(LIST_TYPES)}; got {value!r}"
        )
    return stored


def list_filters(request: Request[Any, Any, Any], caller: str) -> ListFilters:
    """The list endpoint's query parameters, validated."""
    return ListFilters(
        owner=request.query_params.get("user_id") or caller,
        statuses=_statuses(request),
        start=_moment(request, "start_date"),
        end=_moment(request, "end_date"),
        activity_type=_activity_type(request),
        plan_instance_id=request.query_params.get("plan_instance_id"),
        limit=_non_negative(request, "limit", DEFAULT_LIST_LIMIT),
        offset=_non_negative(request, "offset", 0),
    )


async def _body(request: Request[Any, Any, Any]) -> AstralActivityBody:
    payload = await request.body()
    try:
        return msgspec.json.decode(payload, type=AstralActivityBody, strict=True)
    except msgspec.ValidationError as exc:
        raise AstralApiError(422, f"Invalid request body: {exc}") from None
    except msgspec.DecodeError:
        raise AstralApiError(400, "Request body is not valid JSON") from None


def _json(content: Any, status_code: int = 200) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(content), status_code=status_code, media_type="application/json"
    )


def _ok(data: Any, status_code: int = 200) -> Response[bytes]:
    return _json({"status": "ok", "data": data}, status_code)


class ActivityController(Controller):
    """/api/v1/activities: list, create, get, update, delete."""

    path = "/api/v1/activities"

    @get("/")
    async def list_activities(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[AstralStore],
        caller: NamedDependency[str],
    ) -> Response[bytes]:
        options = RenderOptions(
            raw=_raw_format(request),
            detail=_flag(request, "detail"),
            image_urls=_flag(request, "image_urls"),
        )
        page = store.list(caller, list_filters(request, caller))
        return _json([render(stored, options) for stored in page])

    @post("/")
    async def create_activity(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[AstralStore],
        caller: NamedDependency[str],
    ) -> Response[bytes]:
        stored = store.create(caller, await _body(request))
        return _ok(render(stored, RenderOptions()), 201)

    @get("/{activity_id:str}")
    async def get_activity(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[AstralStore],
        caller: NamedDependency[str],
        activity_id: FromPath[str],
    ) -> Response[bytes]:
        detail = _flag(request, "detail")
        options = RenderOptions(
            raw=_raw_format(request),
            detail=detail,
            include_streams=detail and _flag(request, "include_streams"),
        )
        return _ok(render(store.get(caller, activity_id), options))

    @put("/{activity_id:str}")
    async def update_activity(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[AstralStore],
        caller: NamedDependency[str],
        activity_id: FromPath[str],
    ) -> Response[bytes]:
        body = await _body(request)
        return _ok(render(store.update(caller, activity_id, body), RenderOptions()))

    @delete("/{activity_id:str}", status_code=200)
    async def delete_activity(
        self,
        store: NamedDependency[AstralStore],
        caller: NamedDependency[str],
        activity_id: FromPath[str],
    ) -> Response[bytes]:
        store.delete(caller, activity_id)
        return _json({"status": "ok", "message": "Activity deleted successfully"})


def _error(status_code: int, message: str) -> Response[bytes]:
    return _json(AstralErrorBody(message=message), status_code)


def create_app(
    store: AstralStore, tokens: TokenIssuer, auth: AuthorizationServer | None = None
) -> Litestar:
    """The mock's Litestar app: the caller comes from the bearer token, the store is injected."""

    def authenticated_user(request: Request[Any, Any, Any]) -> str:
        try:
            claims = tokens.verify_authorization(request.headers.get("authorization"))
        except TokenRejected as exc:
            raise AstralApiError(401, f"Unauthorized: {exc}") from None
        subject: str = claims["sub"]
        return subject

    def on_api_error(_: Request[Any, Any, Any], exc: AstralApiError) -> Response[bytes]:
        return _error(exc.status_code, exc.message)

    def on_http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
        return _error(exc.status_code, exc.detail)

    return Litestar(
        route_handlers=[ActivityController, *(auth.route_handlers() if auth else [])],
        dependencies={
            "store": Provide(lambda: store, sync_to_thread=False),
            "caller": Provide(authenticated_user, sync_to_thread=False),
        },
        exception_handlers={AstralApiError: on_api_error, HTTPException: on_http_error},
        openapi_config=None,
    )


class AstralMock:
    """Astral's API as a seeded, stateful mock: serve `asgi_app()` and sign in with `token_for()`.

    `faults` (a FaultInjector wrapping the app) adds latency or forces failures; `store` holds
    the state; `add_activity` stores an activity verbatim.
    """

    name = "astral"

    def __init__(
        self,
        seed: int = 0,
        *,
        today: date | None = None,
        tokens: TokenIssuer | None = None,
        history_days: int = 90,
    ) -> None:
        """`today` pins the seeded history's last day; `tokens` lets mocks share a signing key;
        `history_days` is how far back the athlete's history goes."""
        self.seed = seed
        self.store = AstralStore(seed, today=today, history_days=history_days)
        self.tokens = tokens or TokenIssuer(ISSUER)
        #: OAuth2 with PKCE (no OpenID Connect): metadata at the RFC 8414 path.
        self.auth = AuthorizationServer(
            self.tokens,
            paths=ASTRAL_PATHS,
            openid=False,
            users=lambda: list(self.store.users),
            user_claims=self.user_claims,
            default_scope=DEFAULT_SCOPE,
        )
        self.app = create_app(self.store, self.tokens, self.auth)
        self.faults = FaultInjector(self.app)

    @property
    def athlete_id(self) -> str:
        return self.store.athlete.user_id

    @property
    def second_athlete_id(self) -> str:
        return self.store.second_athlete.user_id

    @property
    def coach_id(self) -> str:
        return self.store.coach.user_id

    def asgi_app(self) -> FaultInjector:
        """The app behind its fault injector."""
        return self.faults

    def user_claims(self, user: str) -> dict[str, Any]:
        """What userinfo says of a seeded account."""
        account = self.store.users[user]
        return {"name": account.username, "email": account.email}

    def token_for(self, user: str | None = None) -> str:
        """A signed access token for a seeded user (the athlete when None)."""
        account = self.store.users[user or self.athlete_id]
        return self.tokens.issue(account.user_id, email=account.email, name=account.username)

    def add_activity(
        self, activity: AstralActivity, *, samples: Mapping[str, np.ndarray] | None = None
    ) -> AstralActivity:
        """Store an activity as given (its owner is `activity.user_id`); `samples` are 1 Hz
        series named as `synthesize_history` names them, served by `detail=true`."""
        return self.store.add(activity, samples=samples).activity
