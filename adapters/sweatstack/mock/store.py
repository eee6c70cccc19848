"""The SweatStack mock's state, without HTTP: two seeded athletes, their activities, the
sources of uploaded files, each user's backfill progress and the lab tests.

Everything is plain data seeded deterministically from `seed`, so tests can add activities
and prove that users never see each other's data. An upload is accepted as a "processing"
source and decoded afterwards (`process_upload`, `models.fit.decode_fit`) into an activity
with the recorded samples, or a "failed" source with an error.

Every change after seeding is published on `changes` as SweatStack's webhooks name it
(`activity_created`, `source_processed`, `test_updated`, ...), whoever made it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pyarrow as pa
from open_sport_taxonomy import Sport

from training_gateway.adapters._mock import SyntheticSession, synthesize_history
from training_gateway.adapters.sweatstack import wire
from training_gateway.adapters.sweatstack.mock.events import ChangeFeed
from training_gateway.adapters.sweatstack.mock.profiles import ProfilesState
from training_gateway.adapters.sweatstack.mock.records import (
    StoredActivity,
    StoredSource,
    StoredTest,
    on_or_after,
    on_or_before,
    recorded_session,
)
from training_gateway.adapters.sweatstack.mock.wellness import (
    DailiesState,
    TracesState,
    lactate_step_traces,
    rpe_trace,
)
from training_gateway.models.errors import InvalidInput
from training_gateway.models.fit import decode_fit
from training_gateway.models.sport import sport_matches

MAX_UPLOAD_FILES = 10
BACKFILL_INTERVAL_S = 3.0
BACKFILL_WINDOW_S = 60.0
BACKFILL_STEP = 5
#: The lab app that recorded the seeded tests.
LAB_APP = "sweatstack-lab"

_DEVICES = {
    "cycling": ("Wahoo ELEMNT BOLT", "Garmin HRM-Pro Plus", "Favero Assioma Duo"),
    "running": ("Garmin Forerunner 965", "Garmin HRM-Pro Plus"),
    "swimming": ("Garmin Forerunner 965",),
    "walking": ("Garmin fenix 7",),
}
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
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


class SweatStackStore:
    """SweatStack's state and rules for two seeded athletes.

    `activities` (by id), `user_ids`, `sources` (uploads by source id) and `tests_state` (the
    Tests API's) are plain data; `max_upload_files` and the backfill settings
    `backfill_interval_s`, `backfill_window_s`, `backfill_step`, `backfill_loaded` (progress
    per user) and `backfill_error` may be changed while it serves. `changes` is where every
    change is published.
    """

    def __init__(self, seed: int, *, today: date | None = None, history_days: int = 90) -> None:
        self.seed = seed
        #: Every change of the data, as SweatStack's webhooks name it (nobody listens while
        #: the store seeds itself).
        self.changes = ChangeFeed()
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
        #: Lab tests (the Tests API): `tests_state.tests` by id, hooks to interleave writes.
        self.tests_state = LabTestsState(self.changes)
        self.tests_state.seed(self.user_ids, seed, today)
        #: Dailies and traces (`wellness`): seeded series, and what the API writes.
        self.dailies_state = DailiesState()
        self.dailies_state.seed(self.user_ids, seed, today or date.today(), history_days)
        self.traces_state = TracesState()
        self._seed_traces(seed)
        #: Each app's metadata on activities: activity id -> app -> document.
        self.activity_app_metadata: dict[str, dict[str, dict[str, Any]]] = {}
        #: Accounts (the seeded athletes, the managed users they create) and app metadata.
        self.profiles = ProfilesState(
            {user: ("Athlete", str(number)) for number, user in enumerate(self.user_ids, 1)}
        )

    def _seed_traces(self, seed: int) -> None:
        """The lactate samples of each athlete's seeded step test, and a session RPE after
        each of their ten newest activities."""
        for user in self.user_ids:
            tests = self.tests_state.of(user)
            results = {kind: t.results or {} for t in tests for kind in t.tags or ()}
            ftp = int(results["ftp"]["critical_power"])
            hr_max = int(results["vo2max"]["heart_rate_max"])
            for test in tests:
                if "lactate" in (test.tags or ()):
                    for trace in lactate_step_traces(user, test.id, test.start, ftp, hr_max, seed):
                        self.traces_state.add(trace)
            rng = random.Random(f"rpe:{seed}:{user}")
            for stored in self.activities_of(user)[:10]:
                self.traces_state.add(rpe_trace(user, stored.session.end, stored.sport, rng))

    def set_activity_app_metadata(
        self, activity_id: str, app: str, data: dict[str, Any] | None
    ) -> None:
        """Set (or, with None, remove) one app's metadata on an activity."""
        with self._lock:
            if data is None:
                self.activity_app_metadata.get(activity_id, {}).pop(app, None)
            else:
                self.activity_app_metadata.setdefault(activity_id, {})[app] = data

    def activity_json(self, stored: StoredActivity, app: str, *, details: bool) -> dict[str, Any]:
        """An activity as `app` reads it (its own metadata in `app_metadata`), as details or as
        a list item."""
        obj = wire.to_json_object(stored.details if details else stored.list_item)
        with self._lock:
            obj["app_metadata"] = self.activity_app_metadata.get(stored.id, {}).get(app)
        return obj

    @property
    def default_user(self) -> str:
        return self.user_ids[0]

    @property
    def other_user(self) -> str:
        return self.user_ids[1]

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
        self.changes.publish("activity_created", user_id, stored.id)
        return stored

    def update_activity(
        self, activity_id: str, *, sport: str | None = None, tags: Iterable[str] | None = None
    ) -> StoredActivity:
        """Change an activity's sport or tags, as its owner can in SweatStack's app; the
        samples stay as recorded (KeyError for an unknown id)."""
        with self._lock:
            old = self.activities[activity_id]
            session = old.session
            changed = dataclasses.replace(
                session,
                sport=session.sport if sport is None else sport,
                tags=session.tags if tags is None else tuple(sorted(set(tags))),
            )
            # What the devices recorded does not follow a new sport: keep the samples (the
            # session's `streams` cache) rather than synthesize the new sport's.
            changed.__dict__["streams"] = session.streams
            stored = dataclasses.replace(old, session=changed)  # a fresh `details` cache
            self.activities[activity_id] = stored
        self.changes.publish("activity_updated", stored.user_id, activity_id)
        return stored

    def delete_activity(self, activity_id: str) -> StoredActivity:
        """Delete an activity (KeyError for an unknown id); the activity deleted."""
        with self._lock:
            stored = self.activities.pop(activity_id)
            self.activity_app_metadata.pop(activity_id, None)
        self.changes.publish("activity_deleted", stored.user_id, activity_id)
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
        as an activity with the recorded samples (`records.recorded_session` says what it
        takes from each)."""
        user_id = user or self.default_user
        key = source_id or f"recorded-{len(self.activities)}"
        session = recorded_session(summary, records, key=key)
        return self.add_session(
            session,
            user=user_id,
            activity_id="act_" + ulid_like(session.start, "recorded", user_id, key),
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
            self.changes.publish("source_processed", source.user_id, source.id)
        return source

    def _fail(self, source: StoredSource, code: str, message: str) -> None:
        with self._lock:
            source.error = wire.SourceError(code=code, message=message)
            source.status = "failed"
        self.changes.publish("source_failed", source.user_id, source.id)

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
            and on_or_after(stored, start)
            and on_or_before(stored, end)
            and sport_matches(stored.sport, sports)
            and wanted_tags <= set(stored.tags)
        ]
        found.sort(key=lambda stored: stored.id)
        found.sort(key=lambda stored: stored.start, reverse=True)
        return found


class LabTestsState:
    """The tests of every user, with hooks tests use to interleave other apps' writes; every
    test created, changed or removed is published on `changes`."""

    def __init__(self, changes: ChangeFeed | None = None) -> None:
        self.tests: dict[str, StoredTest] = {}
        self.changes = changes or ChangeFeed()
        self._after_read: dict[str, Callable[[StoredTest], None]] = {}
        self._lock = threading.RLock()

    def after_read(self, test_id: str, callback: Callable[[StoredTest], None]) -> None:
        """Run `callback` once, right after the next GET of `test_id` is served (another
        app's write landing between a client's read and its write)."""
        with self._lock:
            self._after_read[test_id] = callback

    def read_hook(self, test_id: str) -> Callable[[StoredTest], None] | None:
        with self._lock:
            return self._after_read.pop(test_id, None)

    def add(self, test: StoredTest) -> StoredTest:
        with self._lock:
            self.tests[test.id] = test
        self.changes.publish("test_created", test.user, test.id)
        return test

    def change(self, test: StoredTest, **fields: Any) -> None:
        """Change a stored test as a write would (bumping its version)."""
        with self._lock:
            for name, value in fields.items():
                setattr(test, name, value)
            test.version += 1
        self.changes.publish("test_updated", test.user, test.id)

    def set_app_metadata(self, test: StoredTest, app: str, data: dict[str, Any] | None) -> None:
        """Set (or, with None, remove) one app's metadata on a test, bumping its version. An
        app's own metadata is no change of the test: nothing is published."""
        with self._lock:
            if data is None:
                if test.app_metadata.pop(app, None) is None:
                    return  # nothing changed
            else:
                test.app_metadata[app] = data
            test.version += 1

    def of(self, user: str) -> list[StoredTest]:
        with self._lock:
            found = [t for t in self.tests.values() if t.user == user]
        found.sort(key=lambda t: t.id)
        found.sort(key=lambda t: t.start, reverse=True)
        return found

    def get(self, user: str, test_id: str) -> StoredTest | None:
        """One of the user's tests; None when unknown or someone else's."""
        with self._lock:
            test = self.tests.get(test_id)
        return test if test is not None and test.user == user else None

    def remove(self, test_id: str) -> None:
        with self._lock:
            removed = self.tests.pop(test_id, None)
        if removed is not None:
            self.changes.publish("test_deleted", removed.user, test_id)

    def seed(self, users: tuple[str, ...], seed: int, today: date | None = None) -> None:
        """A lactate step test, a VO2max test and an FTP test per seeded athlete."""
        today = today or date.today()
        for index, user in enumerate(users):
            rng = random.Random(f"tests:{seed}:{index}")
            offset = timezone(timedelta(hours=2 if index % 2 == 0 else 1))
            ftp = rng.randint(230, 320)
            hr_max = rng.randint(178, 198)
            for days_ago, kind in ((12, "lactate"), (40, "vo2max"), (75, "ftp")):
                start = datetime.combine(
                    today - timedelta(days=days_ago), time(9 + rng.randint(0, 3), 0), offset
                )
                results: dict[str, Any]
                if kind == "lactate":
                    lt1 = {"power": round(ftp * 0.72), "heart_rate": hr_max - 38, "lactate": 2.0}
                    lt2 = {"power": round(ftp * 0.98), "heart_rate": hr_max - 14, "lactate": 4.0}
                    # SweatStack reports the thresholds under both names.
                    results = {
                        "first_threshold": lt1,
                        "second_threshold": lt2,
                        "lt1": dict(lt1),
                        "lt2": dict(lt2),
                        "fatmax": {"power": round(ftp * 0.6), "heart_rate": hr_max - 50},
                    }
                    title, sport, minutes = "Lactate step test", "cycling.road", 75
                elif kind == "vo2max":
                    vo2 = rng.randint(3900, 5200)
                    results = {
                        "vo2max": float(vo2),
                        "vo2peak": float(vo2 + rng.randint(0, 120)),
                        "heart_rate_max": hr_max,
                        "vt1": {
                            "power": round(ftp * 0.7),
                            "heart_rate": hr_max - 40,
                            "vo2": vo2 * 0.6,
                        },
                        "vt2": {
                            "power": round(ftp * 1.0),
                            "heart_rate": hr_max - 12,
                            "vo2": vo2 * 0.85,
                        },
                    }
                    title, sport, minutes = "VO2max ramp test", "cycling.road", 35
                else:
                    results = {"critical_power": ftp, "w_prime": round(rng.uniform(14, 24), 1)}
                    title, sport, minutes = "FTP test", "cycling.road", 60
                self.add(
                    StoredTest(
                        id=_test_id(seed, index, kind),
                        user=user,
                        created_by=LAB_APP,
                        sport=sport,
                        start=start,
                        end=start + timedelta(minutes=minutes),
                        title=title,
                        results=results,
                        tags=["lab", kind],
                    )
                )


def _test_id(seed: int, index: int, kind: str) -> str:
    digest = random.Random(f"{seed}:{index}:{kind}").getrandbits(64)
    return f"tst_{digest:016x}"
