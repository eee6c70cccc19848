"""Astral's state and rules, without HTTP: three seeded users (the athlete, a second athlete
and a coach who may read the athlete), their activities and training plans, and who coaches
whom (`coached`, which an athlete changes in Astral's app: `start_coaching`, `stop_coaching`).

The athlete's history is about 90 days plus planned sessions from `synthesize_history(seed +
SEED_OFFSET)`; recorded activities carry their 1 Hz samples, and the zones, splits and map
derived from them. A request the rules refuse raises a `Refused` (`dialect` says how Astral
answers each kind).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import msgspec
import numpy as np

from training_gateway.adapters._mock import SyntheticSession, synthesize_history
from training_gateway.adapters.astral.mock.samples import map_of, splits_of, zones_of
from training_gateway.adapters.astral.wire import (
    AstralActivity,
    AstralActivityBody,
    AstralDataSource,
    AstralStatus,
    AstralSummary,
)

SEED_OFFSET: Final = 1000
"""The athlete's history is `synthesize_history(seed + SEED_OFFSET)` (SweatStack uses another)."""
SECOND_ATHLETE_SEED_OFFSET: Final = 2000
AGENT_NAME: Final = "Rex"
AI_MIN_DISTANCE_M: Final = 3000
DEFAULT_LIST_LIMIT: Final = 50
PLAN_WINDOW_DAYS: Final = 28
LISTABLE_STATUSES: Final = ("completed", "scheduled", "skipped")
_NOT_STORED_FROM_BODY: Final = ("summary", "user_id")  # summary merges field by field
_SEEDED_SOURCES: Final = ("garmin", "strava", "apple_watch")
_NAMES: Final = ("Jane Runner", "Ola Nordmann", "Kari Hansen", "Ines Duarte", "Tomas Ruiz")


class Refused(Exception):
    """A request the store's rules refuse (the message says why)."""


class ActivityNotFound(Refused):
    """No such activity, or one the caller may not read."""


class NotPermitted(Refused):
    """The caller may not read those activities, or change this one."""


class MissingFields(Refused):
    """A new activity without a field Astral requires."""


@dataclass(frozen=True)
class AstralUser:
    """A seeded account."""

    user_id: str
    email: str
    username: str


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
        )
        self.users: dict[str, AstralUser] = {
            user.user_id: user for user in (self.athlete, self.second_athlete, self.coach)
        }
        #: Coach -> the athletes they have coach access to (who may read their activities).
        self.coached: dict[str, set[str]] = {self.coach.user_id: {self.athlete.user_id}}
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

    @property
    def user_ids(self) -> tuple[str, ...]:
        """The seeded accounts' ids, the athlete first."""
        return tuple(self.users)

    def user_claims(self, user: str) -> dict[str, Any]:
        """What userinfo says of a seeded account."""
        account = self.users[user]
        return {"name": account.username, "email": account.email}

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
            raise ActivityNotFound(f"Activity {activity_id} not found")
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

    def record(
        self, session: SyntheticSession, *, user: str, activity_type: str, at: datetime
    ) -> StoredActivity:
        """A completed activity of `user` recorded from `session`'s samples, with the zones,
        splits, map and Rex's summary the seeded ones have, as a device sync adds it at `at`."""
        account = self.users[user]
        with self._lock:
            activity_id = self._next_id()
            stored = _recorded_activity(
                session,
                account,
                activity_id,
                activity_type=activity_type,
                status="completed",
                data_source="garmin",
                image_urls=[],
                plan_id=None,
            )
            stored.create_time = stored.update_time = at
            return self._put(stored)

    def edit(
        self,
        activity_id: str,
        *,
        at: datetime,
        name: str | None = None,
        activity_type: str | None = None,
        status: AstralStatus | None = None,
    ) -> StoredActivity:
        """Rename an activity, change its type or its status, as its owner can in Astral's
        app (KeyError for an unknown id); its samples stay as recorded."""
        with self._lock:
            stored = self.activities[activity_id]
            activity = stored.activity
            summary = msgspec.structs.replace(
                activity.summary,
                activity_name=activity.summary.activity_name if name is None else name,
                activity_type=activity.summary.activity_type
                if activity_type is None
                else activity_type,
            )
            changed = msgspec.structs.replace(
                activity,
                summary=summary,
                status=activity.status if status is None else status,
            )
            # A fresh record: seeded ones are shared between mocks of one seed.
            edited = dataclasses.replace(stored, activity=_with_rex(changed), update_time=at)
            self.activities[activity_id] = edited
        return edited

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

    # -- coach access ----------------------------------------------------------------------

    def start_coaching(self, coach: str, athlete: str) -> None:
        """Give `coach` coach access to `athlete` (as the athlete accepts a coach in the app)."""
        if coach == athlete:
            raise ValueError("a user cannot coach themselves")
        with self._lock:
            self.coached.setdefault(coach, set()).add(athlete)

    def stop_coaching(self, coach: str, athlete: str) -> None:
        """Take `coach`'s access to `athlete` away; KeyError when there was none."""
        with self._lock:
            self.coached[coach].remove(athlete)

    # -- rules -----------------------------------------------------------------------------

    def _may_read(self, caller: str, owner: str) -> bool:
        with self._lock:
            return caller == owner or owner in self.coached.get(caller, ())

    def _require_read(self, caller: str, owner: str) -> None:
        if not self._may_read(caller, owner):
            raise NotPermitted("Coach access is required to read another user's activities")

    def _writable(self, caller: str, activity_id: str) -> StoredActivity:
        stored = self.get(caller, activity_id)
        if stored.activity.user_id != caller:
            raise NotPermitted("Only the athlete can change or delete their activities")
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
    return _recorded_activity(
        session,
        user,
        activity_id,
        activity_type=_seeded_type(session),
        status=status,
        data_source=_SEEDED_SOURCES[index % len(_SEEDED_SOURCES)] if recorded else "manual",
        image_urls=[f"https://cdn.nexrex.ai/activities/{activity_id}/photo-1.jpg"]
        if recorded and index % 4 == 0
        else [],
        plan_id=plan_id,
    )


def _recorded_activity(
    session: SyntheticSession,
    user: AstralUser,
    activity_id: str,
    *,
    activity_type: str,
    status: AstralStatus,
    data_source: AstralDataSource,
    image_urls: list[str],
    plan_id: str | None,
) -> StoredActivity:
    """An activity from a session: with its samples and what they yield when completed."""
    recorded = status == "completed"
    samples = session.streams if recorded else None
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
        data_source=data_source,
        complete_date=int(end.timestamp()) * 1000,
        complete_date_str=end.isoformat(),
        zones=zones_of(samples, activity_type) if samples is not None else None,
        splits=splits_of(samples) if samples is not None else None,
        map=map_of(samples) if samples is not None else None,
        plan_instance_id=plan_id,
        image_urls=image_urls,
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
        raise MissingFields(f"Missing required field(s): {', '.join(missing)}")


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
