"""Changes a user makes in Astral's own app (or that a watch sync makes for them), which no API
client made. Astral sends no webhooks: a gateway finds these only by reading again.

`OutsideChanges` makes them on the store: in Python (`mock.outside.create_activity(...)`) or
from another process through the loopback-only `POST /_mock/changes`, whose body is one of the
`OutsideChange` Structs tagged by `kind`, for example

    {"kind": "create_activity", "activity_type": "CYCLING", "duration_s": 3600}
    {"kind": "update_activity", "activity_id": "act_...", "name": "Hill repeats"}
    {"kind": "delete_activity", "activity_id": "act_..."}
    {"kind": "start_coaching", "coach": "usr_...", "athlete": "usr_..."}
    {"kind": "stop_coaching", "coach": "usr_...", "athlete": "usr_..."}

and which answers `{"kind", "user_id", "resource_id"}` (for coaching: the athlete, the coach).
An athlete grants and withdraws coach access in Astral's app; a coach with access reads the
athlete's activities (`user_id=` on the list), one without gets Astral's 403. An activity created outside is a
completed one from a watch (`data_source` "garmin") with 1 Hz samples, zones, splits, a map
and Rex's summary, as the seeded ones have; an update renames it, changes its type or its
status (what the list shows and filters on; `cancelled` leaves the list) and keeps the
samples; `update_time` is the mock clock's now. `user` defaults to the seeded athlete, `start`
to the clock's now less the duration (a session just finished).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from training_gateway.adapters._mock import SyntheticSession
from training_gateway.adapters._mock.clock import MockClock
from training_gateway.adapters._mock.control import InvalidChange, UnknownRecord
from training_gateway.adapters._mock.synthetic.sessions import athlete_offset
from training_gateway.adapters.astral.mock.store import AstralStore, StoredActivity
from training_gateway.adapters.astral.wire import AstralStatus

AwareDatetime = Annotated[datetime, Meta(tz=True)]
DurationSeconds = Annotated[int, Meta(ge=1, le=86_400)]
#: The types a recorded activity can have, and the sport its samples are synthesized for.
RecordedType = Literal["RUNNING", "CYCLING", "SWIMMING", "WALKING", "HIKING"]
SPORT_OF: dict[str, str] = {
    "RUNNING": "running.road",
    "CYCLING": "cycling.road",
    "SWIMMING": "swimming.pool",
    "WALKING": "walking",
    "HIKING": "walking.hiking",
}
DEFAULT_NAME: dict[str, str] = {
    "RUNNING": "Morning run",
    "CYCLING": "Afternoon ride",
    "SWIMMING": "Pool swim",
    "WALKING": "Walk",
    "HIKING": "Hike",
}
DEFAULT_DURATION_S = 45 * 60


class _Change(msgspec.Struct, tag_field="kind", kw_only=True, forbid_unknown_fields=True):
    pass


class CreateActivity(_Change, tag="create_activity"):
    user: str | None = None
    activity_type: RecordedType = "RUNNING"
    start: AwareDatetime | None = None
    duration_s: DurationSeconds = DEFAULT_DURATION_S
    name: str | None = None


class UpdateActivity(_Change, tag="update_activity"):
    activity_id: str
    name: str | None = None
    activity_type: RecordedType | None = None
    status: AstralStatus | None = None


class DeleteActivity(_Change, tag="delete_activity"):
    activity_id: str


class StartCoaching(_Change, tag="start_coaching"):
    coach: str
    athlete: str


class StopCoaching(_Change, tag="stop_coaching"):
    coach: str
    athlete: str


OutsideChange = CreateActivity | UpdateActivity | DeleteActivity | StartCoaching | StopCoaching


class Changed(msgspec.Struct, frozen=True):
    """What an outside change did: its kind, whose data, which record."""

    kind: str
    user_id: str
    resource_id: str


class OutsideChanges:
    """Changes to a user's data made in Astral's own app (see the module docstring)."""

    def __init__(self, store: AstralStore, clock: MockClock) -> None:
        self.store = store
        self.clock = clock
        self._created = 0

    def create_activity(
        self,
        user: str | None = None,
        *,
        activity_type: str = "RUNNING",
        start: datetime | None = None,
        duration_s: int = DEFAULT_DURATION_S,
        name: str | None = None,
    ) -> StoredActivity:
        """A completed activity of `user` with synthetic 1 Hz samples, as a watch sync adds one."""
        if activity_type not in SPORT_OF:
            raise InvalidChange(f"activity_type must be one of {', '.join(SPORT_OF)}")
        if not 1 <= duration_s <= 86_400:
            raise InvalidChange("an activity lasts a second to a day")
        owner = self._user(user)
        now = self.clock.now().replace(microsecond=0)
        if start is None:
            start = (now - timedelta(seconds=duration_s)).astimezone(athlete_offset(now))
        elif start.tzinfo is None:
            raise InvalidChange("an activity's start must be aware")
        self._created += 1
        key = f"outside-{self._created}"
        session = SyntheticSession(
            key=key,
            sport=SPORT_OF[activity_type],
            start=start,
            duration_s=duration_s,
            name=name if name is not None else DEFAULT_NAME[activity_type],
            tags=(),
            status="completed",
            sample_seed=int.from_bytes(
                hashlib.blake2b(f"{self.store.seed}:{owner}:{key}".encode(), digest_size=4).digest()
            ),
        )
        return self.store.record(session, user=owner, activity_type=activity_type, at=now)

    def update_activity(
        self,
        activity_id: str,
        *,
        name: str | None = None,
        activity_type: str | None = None,
        status: AstralStatus | None = None,
    ) -> StoredActivity:
        """Rename an activity, change its type or its status; its samples stay as recorded."""
        if activity_type is not None and activity_type not in SPORT_OF:
            raise InvalidChange(f"activity_type must be one of {', '.join(SPORT_OF)}")
        try:
            return self.store.edit(
                activity_id,
                at=self.clock.now(),
                name=name,
                activity_type=activity_type,
                status=status,
            )
        except KeyError:
            raise UnknownRecord(f"no activity {activity_id!r}") from None

    def delete_activity(self, activity_id: str) -> StoredActivity:
        """Delete an activity; the activity deleted."""
        stored = self.store.activities.get(activity_id)
        if stored is None:
            raise UnknownRecord(f"no activity {activity_id!r}")
        self.store.delete(stored.activity.user_id, activity_id)
        return stored

    def start_coaching(self, coach: str, athlete: str) -> None:
        """`athlete` accepts `coach`: from now on the coach may read their activities."""
        coach, athlete = self._user(coach), self._user(athlete)
        if coach == athlete:
            raise InvalidChange("a user cannot coach themselves")
        self.store.start_coaching(coach, athlete)

    def stop_coaching(self, coach: str, athlete: str) -> None:
        """`athlete` withdraws `coach`'s access."""
        try:
            self.store.stop_coaching(self._user(coach), self._user(athlete))
        except KeyError:
            raise UnknownRecord(f"{coach!r} does not coach {athlete!r}") from None

    def apply(self, change: OutsideChange) -> Changed:
        """Make the change a control request describes."""
        kind: str = change.__struct_config__.tag  # type: ignore[assignment]
        match change:
            case StartCoaching():
                self.start_coaching(change.coach, change.athlete)
                return Changed(kind=kind, user_id=change.athlete, resource_id=change.coach)
            case StopCoaching():
                self.stop_coaching(change.coach, change.athlete)
                return Changed(kind=kind, user_id=change.athlete, resource_id=change.coach)
            case CreateActivity():
                stored = self.create_activity(
                    change.user,
                    activity_type=change.activity_type,
                    start=change.start,
                    duration_s=change.duration_s,
                    name=change.name,
                )
            case UpdateActivity():
                stored = self.update_activity(
                    change.activity_id,
                    name=change.name,
                    activity_type=change.activity_type,
                    status=change.status,
                )
            case DeleteActivity():
                stored = self.delete_activity(change.activity_id)
        activity = stored.activity
        return Changed(kind=kind, user_id=activity.user_id, resource_id=activity.activity_id)

    def apply_json(self, body: bytes) -> Changed:
        """Decode a control request's body (an `OutsideChange`) and make the change."""
        return self.apply(msgspec.json.decode(body, type=OutsideChange))

    def _user(self, user: str | None) -> str:
        """A seeded user's id (the athlete for None); UnknownRecord for another."""
        if user is None:
            return self.store.athlete.user_id
        if user not in self.store.users:
            raise UnknownRecord(f"no user {user!r}")
        return user
