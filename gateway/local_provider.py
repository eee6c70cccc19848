"""`local`: the gateway itself as a provider. Every user has it: it holds lab tests, traces,
dailies and activities created there, in the gateway's own database, so a user whose providers have no
tests API (Astral) can still record tests.

It is built in rather than registered as a plugin, because it needs the gateway's store.
Its "credentials" are the gateway user: `subject` is the user id, `display_name` the name.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, ClassVar

import msgspec

from training_gateway.adapters.base import (
    ActivityQuery,
    AuthKind,
    Capability,
    Credentials,
    LabTestQuery,
    TraceQuery,
)
from training_gateway.gateway.storage import Store, User
from training_gateway.gateway.storage.local import (
    LocalDailies,
    local_activity_records,
    local_test_records,
    local_trace_records,
    new_local_id,
)
from training_gateway.models.activity import Activity, ActivityDraft
from training_gateway.models.daily import Daily, DailyMeasure, daily_id
from training_gateway.models.errors import InvalidInput, NotFound
from training_gateway.models.lab_test import LabTest, LabTestDraft, etag, lab_test_from_draft
from training_gateway.models.trace import Trace, TraceDraft, trace_from_draft

PROVIDER = "local"


def credentials_for(user: User) -> Credentials:
    """The local provider's credentials of a gateway user (never sent anywhere)."""
    return Credentials(access_token=PROVIDER, subject=user.id, display_name=user.name)


class LocalAdapter:
    """Activities and lab tests in the gateway's own store."""

    name: ClassVar[str] = PROVIDER
    display_name: ClassVar[str] = "This gateway"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.LIST_ACTIVITIES,
            Capability.GET_ACTIVITY,
            Capability.CREATE_ACTIVITY,
            Capability.UPDATE_ACTIVITY,
            Capability.DELETE_ACTIVITY,
            Capability.LIST_TESTS,
            Capability.GET_TEST,
            Capability.CREATE_TEST,
            Capability.UPDATE_TEST,
            Capability.DELETE_TEST,
            Capability.TEST_APP_METADATA,
            Capability.LIST_DAILIES,
            Capability.SET_DAILY,
            Capability.DELETE_DAILY,
            Capability.LIST_TRACES,
            Capability.GET_TRACE,
            Capability.CREATE_TRACE,
            Capability.UPDATE_TRACE,
            Capability.DELETE_TRACE,
        }
    )
    auth_kind: ClassVar[AuthKind] = AuthKind.NONE
    oauth_scope: ClassVar[str | None] = None
    patch_preserved_extensions: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, store: Store) -> None:
        self.activities = local_activity_records(store)
        self.tests = local_test_records(store)
        self.traces = local_trace_records(store)
        self.dailies = LocalDailies(store)

    # activities

    async def list_activities(
        self, creds: Credentials, query: ActivityQuery, *, offset: int, limit: int
    ) -> list[Activity]:
        found: list[Activity] = await self.activities.list(
            _user(creds),
            start_date=query.start_date,
            end_date=query.end_date,
            offset=offset,
            limit=limit,
        )
        return found

    async def get_activity(self, creds: Credentials, native_id: str) -> Activity:
        found: Activity = await self.activities.get(_user(creds), native_id)
        return found

    async def create_activity(self, creds: Credentials, draft: ActivityDraft) -> Activity:
        native_id = new_local_id()
        activity = _activity(native_id, draft)
        await self.activities.insert(_user(creds), native_id, activity)
        return activity

    async def replace_activity(
        self, creds: Credentials, native_id: str, draft: ActivityDraft
    ) -> Activity:
        replaced: Activity = await self.activities.replace(
            _user(creds), native_id, lambda _current: _activity(native_id, draft)
        )
        return replaced

    async def delete_activity(self, creds: Credentials, native_id: str) -> None:
        await self.activities.remove(_user(creds), native_id)

    # lab tests

    async def list_tests(
        self, creds: Credentials, query: LabTestQuery, *, offset: int, limit: int
    ) -> list[LabTest]:
        found: list[LabTest] = await self.tests.list(
            _user(creds),
            start_date=query.start_date,
            end_date=query.end_date,
            offset=offset,
            limit=limit,
        )
        return found

    async def get_test(self, creds: Credentials, native_id: str) -> LabTest:
        found: LabTest = await self.tests.get(_user(creds), native_id)
        return found

    async def create_test(self, creds: Credentials, draft: LabTestDraft) -> LabTest:
        native_id = new_local_id()
        test = lab_test_from_draft(
            f"{PROVIDER}:{native_id}", PROVIDER, draft, created_by=creds.display_name
        )
        await self.tests.insert(_user(creds), native_id, test, created_by=test.created_by)
        return test

    async def replace_test(
        self, creds: Credentials, native_id: str, draft: LabTestDraft
    ) -> LabTest:
        return await self._rewrite(creds, native_id, draft)

    async def replace_test_if_unchanged(
        self, creds: Credentials, native_id: str, draft: LabTestDraft, expected: LabTest
    ) -> LabTest:
        """Replace only if the stored test is still `expected` (compared under the row lock);
        Conflict otherwise."""
        return await self._rewrite(creds, native_id, draft, expected=etag(expected))

    async def delete_test(self, creds: Credentials, native_id: str) -> None:
        await self.tests.remove(_user(creds), native_id)

    async def put_test_app_metadata(
        self, creds: Credentials, native_id: str, metadata: dict[str, Any]
    ) -> None:
        await self.tests.replace(
            _user(creds),
            native_id,
            lambda current: msgspec.structs.replace(current, app_metadata=metadata),
        )

    async def delete_test_app_metadata(self, creds: Credentials, native_id: str) -> None:
        await self.tests.replace(
            _user(creds),
            native_id,
            lambda current: msgspec.structs.replace(current, app_metadata=None),
        )

    # dailies: what was stored, never an estimate

    async def list_dailies(
        self,
        creds: Credentials,
        measure: DailyMeasure,
        start: date,
        end: date,
        *,
        interpolate: bool,
    ) -> list[Daily]:
        """The stored days; `local` makes no estimates, so `interpolate` adds nothing."""
        stored = await self.dailies.list(_user(creds), measure.value, start, end)
        return [_daily(measure, day, value) for day, value in stored]

    async def set_daily(
        self, creds: Credentials, measure: DailyMeasure, day: date, value: float
    ) -> Daily:
        await self.dailies.put(_user(creds), measure.value, day, value)
        return _daily(measure, day, value)

    async def delete_daily(self, creds: Credentials, measure: DailyMeasure, day: date) -> None:
        await self.dailies.remove(_user(creds), measure.value, day)

    # traces

    async def list_traces(
        self, creds: Credentials, query: TraceQuery, *, offset: int, limit: int
    ) -> list[Trace]:
        found: list[Trace] = await self.traces.list(
            _user(creds),
            start_date=query.start_date,
            end_date=query.end_date,
            offset=offset,
            limit=limit,
        )
        return found

    async def get_trace(self, creds: Credentials, native_id: str) -> Trace:
        found: Trace = await self.traces.get(_user(creds), native_id)
        return found

    async def create_trace(self, creds: Credentials, draft: TraceDraft) -> Trace:
        await self._check_test_link(creds, draft)
        native_id = new_local_id()
        trace = trace_from_draft(f"{PROVIDER}:{native_id}", PROVIDER, draft)
        await self.traces.insert(_user(creds), native_id, trace)
        return trace

    async def replace_trace(self, creds: Credentials, native_id: str, draft: TraceDraft) -> Trace:
        await self._check_test_link(creds, draft)
        replaced: Trace = await self.traces.replace(
            _user(creds),
            native_id,
            lambda current: trace_from_draft(
                current.id, PROVIDER, draft, app_metadata=current.app_metadata
            ),
        )
        return replaced

    async def delete_trace(self, creds: Credentials, native_id: str) -> None:
        await self.traces.remove(_user(creds), native_id)

    async def _check_test_link(self, creds: Credentials, draft: TraceDraft) -> None:
        """A local trace links to one of the caller's local tests, or to none."""
        if draft.test_id is None:
            return
        provider, _, native = draft.test_id.partition(":")
        if provider == PROVIDER and native:
            try:
                await self.tests.get(_user(creds), native)
                return
            except NotFound:
                pass
        raise InvalidInput(
            "test_id", f"{draft.test_id!r} is not one of your tests at {PROVIDER} (local:<id>)"
        )

    async def _rewrite(
        self,
        creds: Credentials,
        native_id: str,
        draft: LabTestDraft,
        *,
        expected: str | None = None,
    ) -> LabTest:
        def build(current: LabTest) -> LabTest:
            return lab_test_from_draft(
                current.id,
                PROVIDER,
                draft,
                created_by=current.created_by,
                app_metadata=current.app_metadata,
            )

        replaced: LabTest = await self.tests.replace(
            _user(creds),
            native_id,
            build,
            expected=None if expected is None else (lambda current: etag(current) == expected),
        )
        return replaced


def _user(creds: Credentials) -> str:
    if not creds.subject:
        raise ValueError("local credentials carry the gateway user id as subject")
    return creds.subject


def _daily(measure: DailyMeasure, day: date, value: float) -> Daily:
    return Daily(
        id=daily_id(PROVIDER, measure, day),
        provider=PROVIDER,
        measure=measure,
        date=day,
        value=value,
        source="manual",
    )


def _activity(native_id: str, draft: ActivityDraft) -> Activity:
    start = draft.start
    end = start + timedelta(seconds=draft.duration_s)
    return Activity(
        id=f"{PROVIDER}:{native_id}",
        provider=PROVIDER,
        sport=draft.sport,
        status=draft.status,
        start=start,
        end=end,
        start_local=start.replace(tzinfo=None),
        end_local=end.replace(tzinfo=None),
        duration_s=draft.duration_s,
        distance_m=draft.distance_m,
        name=draft.name,
        tags=list(draft.tags),
        extensions=dict(draft.extensions),
    )
