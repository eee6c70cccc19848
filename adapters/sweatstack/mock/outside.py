"""Changes a user makes in SweatStack's own app (or that a device sync makes for them), which no
API client made: what a gateway has to learn of from webhooks.

`OutsideChanges` makes them on the store, so they publish the same events as any other change
(`activity_created`, `test_updated`, ...): in Python (`mock.outside.create_activity(...)`) or
from another process through the loopback-only `POST /_mock/changes`, whose body is one of the
`OutsideChange` Structs tagged by `kind`, for example

    {"kind": "create_activity", "sport": "cycling.road", "duration_s": 3600, "tags": ["long"]}
    {"kind": "update_activity", "activity_id": "act_...", "sport": "running.trail"}
    {"kind": "delete_test", "test_id": "tst_..."}

and which answers `{"kind", "user_id", "resource_id"}`. An activity created outside has 1 Hz
samples, laps and summaries as the seeded ones do; an update changes its sport or tags (what
the list shows and filters on) and keeps the samples; a test created outside belongs to
SweatStack's own app (`created_by` "sweatstack-web"), so other apps may read it, not change it.
`user` defaults to the seeded default athlete; `start` to the mock clock's now, less the
activity's duration (a session just finished).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType
from open_sport_taxonomy import Sport

from training_gateway.adapters._mock.clock import MockClock
from training_gateway.adapters._mock.control import InvalidChange, UnknownRecord
from training_gateway.adapters._mock.synthetic.sessions import athlete_offset
from training_gateway.adapters.sweatstack import wire
from training_gateway.adapters.sweatstack.mock.api.tests import DEFAULT_DURATION, FIRST_PARTY_APP
from training_gateway.adapters.sweatstack.mock.records import StoredActivity, StoredTest
from training_gateway.adapters.sweatstack.mock.store import SweatStackStore

AwareDatetime = Annotated[datetime, Meta(tz=True)]
#: An activity lasts a second to a day.
DurationSeconds = Annotated[int, Meta(ge=1, le=86_400)]
DEFAULT_ACTIVITY_SPORT = "running.road"
DEFAULT_ACTIVITY_DURATION_S = 45 * 60
DEFAULT_TEST_SPORT = "cycling.road"


class _Change(msgspec.Struct, tag_field="kind", kw_only=True, forbid_unknown_fields=True):
    pass


class CreateActivity(_Change, tag="create_activity"):
    user: str | None = None
    sport: str = DEFAULT_ACTIVITY_SPORT
    start: AwareDatetime | None = None
    duration_s: DurationSeconds = DEFAULT_ACTIVITY_DURATION_S
    tags: list[str] = []


class UpdateActivity(_Change, tag="update_activity"):
    activity_id: str
    sport: str | None = None
    tags: list[str] | None = None


class DeleteActivity(_Change, tag="delete_activity"):
    activity_id: str


class CreateTest(_Change, tag="create_test"):
    user: str | None = None
    sport: str = DEFAULT_TEST_SPORT
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    title: str | None = None
    results: wire.LabTestResults | None = None
    tags: list[str] | None = None


class UpdateTest(_Change, tag="update_test"):
    """Only the fields sent change; a null clears an optional one."""

    test_id: str
    sport: str | UnsetType = UNSET
    start: AwareDatetime | UnsetType = UNSET
    end: AwareDatetime | UnsetType | None = UNSET
    title: str | UnsetType | None = UNSET
    results: wire.LabTestResults | UnsetType | None = UNSET
    tags: list[str] | UnsetType | None = UNSET


class DeleteTest(_Change, tag="delete_test"):
    test_id: str


OutsideChange = (
    CreateActivity | UpdateActivity | DeleteActivity | CreateTest | UpdateTest | DeleteTest
)


class Changed(msgspec.Struct, frozen=True):
    """What an outside change did: its kind, whose data, which record."""

    kind: str
    user_id: str
    resource_id: str


def _sport(raw: str) -> str:
    """A sport SweatStack's app offers: Open Sport Taxonomy codes and modifiers it knows."""
    try:
        known = Sport.parse(raw).uses_known_atoms
    except ValueError:
        known = False
    if not known:
        raise InvalidChange(f"unknown sport {raw!r}")
    return raw


def _results(results: wire.LabTestResults | dict[str, Any] | None) -> dict[str, Any] | None:
    if results is None:
        return None
    try:
        checked = msgspec.convert(results, wire.LabTestResults, from_attributes=True)
    except msgspec.ValidationError as exc:
        raise InvalidChange(f"results: {exc}") from None
    converted: dict[str, Any] = msgspec.to_builtins(checked)
    return converted


class OutsideChanges:
    """Changes to a user's data made in SweatStack's own app (see the module docstring)."""

    def __init__(self, store: SweatStackStore, clock: MockClock) -> None:
        self.store = store
        self.clock = clock

    # -- activities ----------------------------------------------------------------------

    def create_activity(
        self,
        user: str | None = None,
        *,
        sport: str = DEFAULT_ACTIVITY_SPORT,
        start: datetime | None = None,
        duration_s: int = DEFAULT_ACTIVITY_DURATION_S,
        tags: Iterable[str] = (),
    ) -> StoredActivity:
        """A recorded activity of `user` with synthetic 1 Hz samples, as a device sync adds one."""
        if not 1 <= duration_s <= 86_400:
            raise InvalidChange("an activity lasts a second to a day")
        if start is None:
            start = self._recent(timedelta(seconds=duration_s))
        elif start.tzinfo is None:
            raise InvalidChange("an activity's start must be aware")
        return self.store.add_activity(
            sport=_sport(sport),
            start=start,
            duration_s=duration_s,
            tags=tags,
            user=self._user(user),
        )

    def update_activity(
        self, activity_id: str, *, sport: str | None = None, tags: Iterable[str] | None = None
    ) -> StoredActivity:
        """Change an activity's sport or tags; its samples stay as recorded."""
        try:
            return self.store.update_activity(
                activity_id, sport=None if sport is None else _sport(sport), tags=tags
            )
        except KeyError:
            raise UnknownRecord(f"no activity {activity_id!r}") from None

    def delete_activity(self, activity_id: str) -> StoredActivity:
        """Delete an activity; the activity deleted."""
        try:
            return self.store.delete_activity(activity_id)
        except KeyError:
            raise UnknownRecord(f"no activity {activity_id!r}") from None

    # -- tests ---------------------------------------------------------------------------

    def create_test(
        self,
        user: str | None = None,
        *,
        sport: str = DEFAULT_TEST_SPORT,
        start: datetime | None = None,
        end: datetime | None = None,
        title: str | None = None,
        results: wire.LabTestResults | dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> StoredTest:
        """A test of `user` recorded in SweatStack's own app (which then owns it)."""
        if start is None:
            start = self._recent(DEFAULT_DURATION)
        for name, moment in (("start", start), ("end", end)):
            if moment is not None and moment.tzinfo is None:
                raise InvalidChange(f"a test's {name} must be aware")
        return self.store.tests_state.add(
            StoredTest(
                id="tst_" + secrets.token_hex(8),
                user=self._user(user),
                created_by=FIRST_PARTY_APP,
                sport=_sport(sport),
                start=start,
                end=end if end is not None else start + DEFAULT_DURATION,
                title=title,
                results=_results(results),
                tags=tags,
            )
        )

    def update_test(
        self,
        test_id: str,
        *,
        sport: str | UnsetType = UNSET,
        start: datetime | UnsetType = UNSET,
        end: datetime | UnsetType | None = UNSET,
        title: str | UnsetType | None = UNSET,
        results: wire.LabTestResults | dict[str, Any] | UnsetType | None = UNSET,
        tags: list[str] | UnsetType | None = UNSET,
    ) -> StoredTest:
        """Change the fields given (None clears an optional one), whichever app created it."""
        test = self._test(test_id)
        fields: dict[str, Any] = {}
        if not isinstance(sport, UnsetType):
            fields["sport"] = _sport(sport)
        for name, moment in (("start", start), ("end", end)):
            if isinstance(moment, datetime):
                if moment.tzinfo is None:
                    raise InvalidChange(f"a test's {name} must be aware")
                fields[name] = moment
            elif moment is None:
                if name == "start":
                    raise InvalidChange("a test always has a start")
                fields[name] = None
        if not isinstance(title, UnsetType):
            fields["title"] = title
        if not isinstance(results, UnsetType):
            fields["results"] = _results(results)
        if not isinstance(tags, UnsetType):
            fields["tags"] = tags
        self.store.tests_state.change(test, **fields)
        return test

    def delete_test(self, test_id: str) -> StoredTest:
        """Delete a test, whichever app created it; the test deleted."""
        test = self._test(test_id)
        self.store.tests_state.remove(test_id)
        return test

    # -- from the control route ----------------------------------------------------------

    def apply(self, change: OutsideChange) -> Changed:
        """Make the change a control request describes."""
        match change:
            case CreateActivity():
                activity = self.create_activity(
                    change.user,
                    sport=change.sport,
                    start=change.start,
                    duration_s=change.duration_s,
                    tags=change.tags,
                )
                return _changed(change, activity.user_id, activity.id)
            case UpdateActivity():
                activity = self.update_activity(
                    change.activity_id, sport=change.sport, tags=change.tags
                )
                return _changed(change, activity.user_id, activity.id)
            case DeleteActivity():
                activity = self.delete_activity(change.activity_id)
                return _changed(change, activity.user_id, activity.id)
            case CreateTest():
                test = self.create_test(
                    change.user,
                    sport=change.sport,
                    start=change.start,
                    end=change.end,
                    title=change.title,
                    results=change.results,
                    tags=change.tags,
                )
                return _changed(change, test.user, test.id)
            case UpdateTest():
                test = self.update_test(
                    change.test_id,
                    sport=change.sport,
                    start=change.start,
                    end=change.end,
                    title=change.title,
                    results=change.results,
                    tags=change.tags,
                )
                return _changed(change, test.user, test.id)
            case DeleteTest():
                test = self.delete_test(change.test_id)
                return _changed(change, test.user, test.id)

    def apply_json(self, body: bytes) -> Changed:
        """Decode a control request's body (an `OutsideChange`) and make the change."""
        return self.apply(msgspec.json.decode(body, type=OutsideChange))

    # -- helpers -------------------------------------------------------------------------

    def _user(self, user: str | None) -> str:
        if user is None:
            return self.store.default_user
        if user not in self.store.user_ids:
            raise UnknownRecord(f"no user {user!r}")
        return user

    def _test(self, test_id: str) -> StoredTest:
        test = self.store.tests_state.tests.get(test_id)
        if test is None:
            raise UnknownRecord(f"no test {test_id!r}")
        return test

    def _recent(self, duration: timedelta) -> datetime:
        """A start `duration` before the clock's now, whole seconds, at the athlete's offset."""
        now = self.clock.now().replace(microsecond=0)
        return (now - duration).astimezone(athlete_offset(now))


def _changed(change: _Change, user_id: str, resource_id: str) -> Changed:
    kind: str = change.__struct_config__.tag  # type: ignore[assignment]
    return Changed(kind=kind, user_id=user_id, resource_id=resource_id)
