"""The Adapter protocol, its capabilities as data and as typed operation protocols, and the
entry-point registry of providers."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from importlib.metadata import entry_points
from typing import (
    Any,
    BinaryIO,
    ClassVar,
    Final,
    Generic,
    Literal,
    Protocol,
    TypeVar,
    cast,
    runtime_checkable,
)

import httpx
import pyarrow as pa
from msgspec import Struct, field

from training_gateway.models.activity import Activity, ActivityDraft, ActivityStatus
from training_gateway.models.daily import Daily, DailyMeasure
from training_gateway.models.errors import Unsupported
from training_gateway.models.lab_test import LabTest, LabTestDraft
from training_gateway.models.trace import Trace, TraceDraft

ENTRY_POINT_GROUP = "training_gateway.adapters"


class Capability(enum.StrEnum):
    """One operation a provider may offer; adapters declare the set they support."""

    LIST_ACTIVITIES = "activities:list"
    GET_ACTIVITY = "activities:get"
    CREATE_ACTIVITY = "activities:create"
    UPDATE_ACTIVITY = "activities:update"
    DELETE_ACTIVITY = "activities:delete"
    ACTIVITY_DATA = "activities:data"
    # Provider-scoped list filters and views (see ActivityQuery and SupportsRawView).
    COACH_ACCESS = "activities:coach-access"
    PLAN_FILTER = "activities:plan-filter"
    RAW_VIEW = "activities:raw-view"
    MEAN_MAX = "activities:mean-max"
    SEGMENTATION = "activities:segmentation"
    LONGITUDINAL_MEAN_MAX = "activities:longitudinal-mean-max"
    UPLOAD = "activities:upload"
    BACKFILL_STATUS = "activities:backfill-status"
    LIST_TESTS = "tests:list"
    GET_TEST = "tests:get"
    CREATE_TEST = "tests:create"
    UPDATE_TEST = "tests:update"
    DELETE_TEST = "tests:delete"
    TEST_APP_METADATA = "tests:app-metadata"
    WEBHOOKS = "events:webhooks"
    ACTIVITY_APP_METADATA = "activities:app-metadata"
    LIST_DAILIES = "dailies:list"
    SET_DAILY = "dailies:set"
    DELETE_DAILY = "dailies:delete"
    LIST_TRACES = "traces:list"
    GET_TRACE = "traces:get"
    CREATE_TRACE = "traces:create"
    UPDATE_TRACE = "traces:update"
    DELETE_TRACE = "traces:delete"


class AuthKind(enum.StrEnum):
    """How a user connects their account at this provider."""

    OAUTH2_PKCE_OIDC = "oauth2_pkce_oidc"
    OAUTH2_PKCE_OR_BEARER = "oauth2_pkce_or_bearer"
    BEARER = "bearer"
    NONE = "none"


class ActivityQuery(Struct, kw_only=True, frozen=True):
    """Filters an adapter may push down to its provider.

    An adapter may return a superset (the gateway applies every filter exactly afterwards),
    but it must return the same items in the same order for the same query, because the
    gateway pages through it by offset.

    `athlete` and `plan_instance_id` are provider-scoped: the gateway sets them only for an
    adapter that declares Capability.COACH_ACCESS (list another user's activities, by the
    provider's user id, as their coach) or Capability.PLAN_FILTER (only the activities of one
    training-plan instance), and it must then honour them exactly.
    """

    start_date: date | None = None
    end_date: date | None = None
    sports: tuple[str, ...] = ()
    statuses: tuple[ActivityStatus, ...] = ()
    tags: tuple[str, ...] = ()
    athlete: str | None = None
    plan_instance_id: str | None = None


class LabTestQuery(Struct, kw_only=True, frozen=True):
    """Filters an adapter may push down when listing lab tests (same contract as ActivityQuery:
    a superset is fine, the order must be stable for paging by offset)."""

    start_date: date | None = None
    end_date: date | None = None
    sports: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    created_by: str | None = None


class TraceQuery(Struct, kw_only=True, frozen=True):
    """Filters an adapter may push down when listing traces (same contract as ActivityQuery:
    a superset is fine, the order must be stable for paging by offset)."""

    start_date: date | None = None
    end_date: date | None = None
    sports: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


class Credentials(Struct, kw_only=True, frozen=True):
    """A user's standing at one provider: the access token and who it belongs to.

    `email` and `display_name` come from the provider's identity claims where it gives them;
    some providers require them on writes.
    """

    access_token: str
    subject: str | None = None
    email: str | None = None
    display_name: str | None = None

    def __repr__(self) -> str:  # never let a token reach a log line
        return f"Credentials(subject={self.subject!r}, access_token=<redacted>)"


class MeanMaxPoint(Struct, kw_only=True, frozen=True):
    """One point of a mean-max curve: the best mean over `duration_s` and where it started."""

    duration_s: int
    value: float
    start: datetime


class LongitudinalMeanMaxQuery(Struct, kw_only=True, frozen=True):
    """What a provider's own longitudinal curve is asked for: the activities (sports, local
    start dates), the metric, the grid (None: the provider's default), the fatigue states and
    the orientation ("duration" or "intensity")."""

    sports: tuple[str, ...]
    start_date: date | None
    end_date: date | None
    metric: str
    durations_s: tuple[int, ...] | Literal["all"] | None
    afters: tuple[float, ...]
    by: str


class LongitudinalMeanMaxRow(Struct, kw_only=True, frozen=True):
    """One row of a provider's longitudinal curve: a duration and a mean (by duration), or a
    level and the longest duration sustained at it (by intensity); the activity (its id at
    the provider) that set it, and the fatigue state (None: whole activities)."""

    duration_s: int
    value: float
    start: datetime
    native_id: str
    sport: str
    after: float | None = None


class UploadedFile(Struct, kw_only=True, frozen=True):
    """A file a caller uploaded, as the gateway forwards it: its bytes, or an open file the
    adapter streams from (an upload spooled to disk)."""

    filename: str
    content: bytes | BinaryIO
    content_type: str = "application/octet-stream"


class ProviderInfo(Struct, kw_only=True):
    """What GET /v1/providers says of one provider."""

    name: str
    display_name: str
    capabilities: list[Capability]
    auth_kind: AuthKind
    connected: bool = False
    extensions: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Adapter(Protocol):
    """A provider plugin: maps the provider's API onto the unified schema.

    The protocol holds what every provider has: its name, the capabilities it declares and
    how users connect. Each operation is a protocol of its own below (`SupportsActivities`,
    `SupportsLabTests`, ...); an adapter implements those it declares, and the gateway checks
    once, when adapters load, that every declared capability is implemented
    (`check_capabilities`). Callers reach an operation through `capability(adapter, op)`.

    Instances are created once per gateway with the provider's base URL and the gateway's
    pooled HTTP client; every call carries the user's credentials.
    """

    name: ClassVar[str]
    display_name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    auth_kind: ClassVar[AuthKind]
    # What to ask the provider for when connecting through OAuth (None: nothing to connect).
    oauth_scope: ClassVar[str | None]
    # Extensions a merge patch carries over from the stored activity unless it changes them.
    patch_preserved_extensions: ClassVar[frozenset[str]]

    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None: ...


@runtime_checkable
class SupportsActivities(Protocol):
    """Capability.LIST_ACTIVITIES and GET_ACTIVITY."""

    async def list_activities(
        self, creds: Credentials, query: ActivityQuery, *, offset: int, limit: int
    ) -> list[Activity]:
        """Up to `limit` activities from `offset`, newest first, in a stable order."""
        ...

    async def get_activity(self, creds: Credentials, native_id: str) -> Activity: ...


@runtime_checkable
class SupportsActivityWrites(Protocol):
    """Capability.CREATE_ACTIVITY, UPDATE_ACTIVITY and DELETE_ACTIVITY."""

    async def create_activity(self, creds: Credentials, draft: ActivityDraft) -> Activity: ...

    async def replace_activity(
        self, creds: Credentials, native_id: str, draft: ActivityDraft
    ) -> Activity: ...

    async def delete_activity(self, creds: Credentials, native_id: str) -> None: ...


@runtime_checkable
class SupportsActivityData(Protocol):
    """Capability.ACTIVITY_DATA."""

    async def activity_data(
        self, creds: Credentials, native_id: str, metrics: Sequence[str]
    ) -> pa.Table:
        """The activity's samples in the unified schema (`models.timeseries.conform`), with only
        the requested metrics it has; NotFound when the activity has no streams."""
        ...


RAW_DOCUMENT: Final = "raw_document"
"""The extension in which a raw view keeps the provider's own document."""


@runtime_checkable
class SupportsRawView(Protocol):
    """Capability.RAW_VIEW: activities as the provider stores them. Each is the unified
    activity with the provider's own document kept whole in `extensions["raw_document"]`."""

    async def list_raw_activities(
        self, creds: Credentials, query: ActivityQuery, *, offset: int, limit: int
    ) -> list[Activity]:
        """`list_activities`, each activity carrying its raw document."""
        ...

    async def get_raw_activity(self, creds: Credentials, native_id: str) -> Activity:
        """`get_activity`, carrying its raw document."""
        ...


@runtime_checkable
class SupportsMeanMax(Protocol):
    """Capability.MEAN_MAX."""

    async def mean_max(
        self, creds: Credentials, native_id: str, metric: str, durations_s: Sequence[int]
    ) -> list[MeanMaxPoint]:
        """The provider's own mean-max curve."""
        ...


@runtime_checkable
class SupportsSegmentation(Protocol):
    """Capability.SEGMENTATION: the provider segments activity data itself (SweatStack's AISC)
    and thins its mean-max curves for visualization."""

    async def segmented_data(
        self, creds: Credentials, native_id: str, metrics: Sequence[str], on: str
    ) -> pa.Table:
        """The activity's samples segmented on `on` (power or speed), in the unified schema:
        one row per segment, `duration` its length in seconds, metrics their means."""
        ...

    async def segmented_mean_max(
        self, creds: Credentials, native_id: str, metric: str, durations_s: Sequence[int]
    ) -> list[MeanMaxPoint]:
        """The provider's own mean-max curve, thinned by its segmentation."""


@runtime_checkable
class SupportsLongitudinalMeanMax(Protocol):
    """Capability.LONGITUDINAL_MEAN_MAX."""

    async def longitudinal_mean_max(
        self, creds: Credentials, query: LongitudinalMeanMaxQuery
    ) -> list[LongitudinalMeanMaxRow]:
        """The provider's own curve across the user's matching activities, attributed."""
        ...


@runtime_checkable
class SupportsUpload(Protocol):
    """Capability.UPLOAD."""

    async def upload_files(self, creds: Credentials, files: Sequence[UploadedFile]) -> list[str]:
        """Forward activity files; the provider's source ids."""
        ...


@runtime_checkable
class SupportsBackfillStatus(Protocol):
    """Capability.BACKFILL_STATUS."""

    def backfill_status(self, creds: Credentials) -> AsyncIterator[datetime | None]:
        """The provider's backfill progress: `backfill_loaded_until` values as they come."""
        ...


@runtime_checkable
class SupportsLabTests(Protocol):
    """The tests:* capabilities (lab tests: lactate, VO2max, FTP, ...)."""

    async def list_tests(
        self, creds: Credentials, query: LabTestQuery, *, offset: int, limit: int
    ) -> list[LabTest]:
        """Up to `limit` tests from `offset`, newest start first, in a stable order."""
        ...

    async def get_test(self, creds: Credentials, native_id: str) -> LabTest: ...

    async def create_test(self, creds: Credentials, draft: LabTestDraft) -> LabTest: ...

    async def replace_test(
        self, creds: Credentials, native_id: str, draft: LabTestDraft
    ) -> LabTest:
        """Full replace: fields the draft leaves out become null."""
        ...

    async def delete_test(self, creds: Credentials, native_id: str) -> None: ...

    async def put_test_app_metadata(
        self, creds: Credentials, native_id: str, metadata: dict[str, Any]
    ) -> None: ...

    async def delete_test_app_metadata(self, creds: Credentials, native_id: str) -> None: ...


@runtime_checkable
class SupportsActivityAppMetadata(Protocol):
    """Capability.ACTIVITY_APP_METADATA: the provider keeps each app's JSON on activities
    itself (the gateway keeps it for the others)."""

    async def put_activity_app_metadata(
        self, creds: Credentials, native_id: str, metadata: dict[str, Any]
    ) -> None: ...

    async def delete_activity_app_metadata(self, creds: Credentials, native_id: str) -> None: ...


@runtime_checkable
class SupportsDailies(Protocol):
    """The dailies:* capabilities: one value per measure per day."""

    async def list_dailies(
        self,
        creds: Credentials,
        measure: DailyMeasure,
        start: date,
        end: date,
        *,
        interpolate: bool,
    ) -> list[Daily]:
        """The days from `start` to `end` (inclusive) that have a value, oldest first: stored
        ones, and with `interpolate` the provider's estimates for the others (if it makes any)."""
        ...

    async def set_daily(
        self, creds: Credentials, measure: DailyMeasure, day: date, value: float
    ) -> Daily:
        """Create or replace the day's value; the value as stored."""
        ...

    async def delete_daily(self, creds: Credentials, measure: DailyMeasure, day: date) -> None:
        """Delete the day's value; NotFound when it has none."""
        ...


@runtime_checkable
class SupportsTraces(Protocol):
    """traces:list, create, update and delete (point measurements: lactate, RPE, ...)."""

    async def list_traces(
        self, creds: Credentials, query: TraceQuery, *, offset: int, limit: int
    ) -> list[Trace]:
        """Up to `limit` traces from `offset`, newest first, in a stable order."""
        ...

    async def create_trace(self, creds: Credentials, draft: TraceDraft) -> Trace: ...

    async def replace_trace(self, creds: Credentials, native_id: str, draft: TraceDraft) -> Trace:
        """Full replace: fields the draft leaves out become null (the test link too)."""
        ...

    async def delete_trace(self, creds: Credentials, native_id: str) -> None: ...


@runtime_checkable
class SupportsTraceLookup(Protocol):
    """Capability.GET_TRACE: one trace by its id (SweatStack's API has no such endpoint)."""

    async def get_trace(self, creds: Credentials, native_id: str) -> Trace: ...


@runtime_checkable
class SupportsConditionalLabTestWrite(Protocol):
    """An adapter that can replace a test atomically only if it is still what was read (the
    gateway guards merge patches on other providers by reading again before writing)."""

    async def replace_test_if_unchanged(
        self, creds: Credentials, native_id: str, draft: LabTestDraft, expected: LabTest
    ) -> LabTest:
        """Replace the test if it still equals `expected`; models.errors.Conflict otherwise."""
        ...


@runtime_checkable
class SupportsImportedDrafts(Protocol):
    """An adapter whose provider holds less than a recording says (coarser sports, whole
    units), and which states what it keeps of a draft imported from a file, instead of
    refusing it. Writes of drafts the caller composed are still refused, never adapted."""

    def imported_draft(self, draft: ActivityDraft) -> tuple[ActivityDraft, list[str]]:
        """The draft as the provider would hold it, and a note for each value it changed."""
        ...


class InboundChange(Struct, kw_only=True, frozen=True):
    """A change a provider announced by webhook: whose (the provider's subject), of what
    (`kind`, `native_id`), and how; `dedupe_key` is the same for a redelivery of it."""

    subject: str
    kind: Literal["activity", "test", "source"]
    change: Literal["created", "updated", "deleted", "processed", "failed"]
    native_id: str | None
    occurred_at: datetime
    dedupe_key: str


@runtime_checkable
class SupportsWebhooks(Protocol):
    """Capability.WEBHOOKS: the provider announces changes by signed webhook."""

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, secrets: Sequence[str], *, now_s: float
    ) -> InboundChange:
        """The change a delivery announces, once its signature checks out with one of
        `secrets` (current first) and it is fresh; WebhookRejected or MalformedWebhook not."""
        ...


P = TypeVar("P")


@dataclass(frozen=True)
class Operation(Generic[P]):
    """A capability and the protocol that implements it: the key `capability()` narrows by."""

    capability: Capability
    protocol: Any  # the runtime-checkable Protocol that P names


class Operations:
    """Every operation an adapter may offer, typed by the protocol that implements it."""

    LIST_ACTIVITIES = Operation[SupportsActivities](Capability.LIST_ACTIVITIES, SupportsActivities)
    GET_ACTIVITY = Operation[SupportsActivities](Capability.GET_ACTIVITY, SupportsActivities)
    CREATE_ACTIVITY = Operation[SupportsActivityWrites](
        Capability.CREATE_ACTIVITY, SupportsActivityWrites
    )
    UPDATE_ACTIVITY = Operation[SupportsActivityWrites](
        Capability.UPDATE_ACTIVITY, SupportsActivityWrites
    )
    DELETE_ACTIVITY = Operation[SupportsActivityWrites](
        Capability.DELETE_ACTIVITY, SupportsActivityWrites
    )
    ACTIVITY_DATA = Operation[SupportsActivityData](Capability.ACTIVITY_DATA, SupportsActivityData)
    COACH_ACCESS = Operation[SupportsActivities](Capability.COACH_ACCESS, SupportsActivities)
    PLAN_FILTER = Operation[SupportsActivities](Capability.PLAN_FILTER, SupportsActivities)
    RAW_VIEW = Operation[SupportsRawView](Capability.RAW_VIEW, SupportsRawView)
    MEAN_MAX = Operation[SupportsMeanMax](Capability.MEAN_MAX, SupportsMeanMax)
    SEGMENTATION = Operation[SupportsSegmentation](Capability.SEGMENTATION, SupportsSegmentation)
    LONGITUDINAL_MEAN_MAX = Operation[SupportsLongitudinalMeanMax](
        Capability.LONGITUDINAL_MEAN_MAX, SupportsLongitudinalMeanMax
    )
    UPLOAD = Operation[SupportsUpload](Capability.UPLOAD, SupportsUpload)
    BACKFILL_STATUS = Operation[SupportsBackfillStatus](
        Capability.BACKFILL_STATUS, SupportsBackfillStatus
    )
    LIST_TESTS = Operation[SupportsLabTests](Capability.LIST_TESTS, SupportsLabTests)
    GET_TEST = Operation[SupportsLabTests](Capability.GET_TEST, SupportsLabTests)
    CREATE_TEST = Operation[SupportsLabTests](Capability.CREATE_TEST, SupportsLabTests)
    UPDATE_TEST = Operation[SupportsLabTests](Capability.UPDATE_TEST, SupportsLabTests)
    DELETE_TEST = Operation[SupportsLabTests](Capability.DELETE_TEST, SupportsLabTests)
    TEST_APP_METADATA = Operation[SupportsLabTests](Capability.TEST_APP_METADATA, SupportsLabTests)
    WEBHOOKS = Operation[SupportsWebhooks](Capability.WEBHOOKS, SupportsWebhooks)
    ACTIVITY_APP_METADATA = Operation[SupportsActivityAppMetadata](
        Capability.ACTIVITY_APP_METADATA, SupportsActivityAppMetadata
    )
    LIST_DAILIES = Operation[SupportsDailies](Capability.LIST_DAILIES, SupportsDailies)
    SET_DAILY = Operation[SupportsDailies](Capability.SET_DAILY, SupportsDailies)
    DELETE_DAILY = Operation[SupportsDailies](Capability.DELETE_DAILY, SupportsDailies)
    LIST_TRACES = Operation[SupportsTraces](Capability.LIST_TRACES, SupportsTraces)
    GET_TRACE = Operation[SupportsTraceLookup](Capability.GET_TRACE, SupportsTraceLookup)
    CREATE_TRACE = Operation[SupportsTraces](Capability.CREATE_TRACE, SupportsTraces)
    UPDATE_TRACE = Operation[SupportsTraces](Capability.UPDATE_TRACE, SupportsTraces)
    DELETE_TRACE = Operation[SupportsTraces](Capability.DELETE_TRACE, SupportsTraces)

    @classmethod
    def all(cls) -> list[Operation[Any]]:
        return [value for value in vars(cls).values() if isinstance(value, Operation)]


def has_capability(adapter: type[Adapter] | Adapter, operation: Operation[Any]) -> bool:
    """Whether the adapter declares the operation's capability and implements it."""
    return operation.capability in adapter.capabilities and _implements(
        adapter if isinstance(adapter, type) else type(adapter), operation.protocol
    )


def capability(adapter: Adapter, operation: Operation[P]) -> P:
    """The adapter as the protocol of `operation`; Unsupported naming the provider and the
    capability when it does not offer it."""
    if not has_capability(adapter, operation):
        raise Unsupported(adapter.name, operation.capability.value)
    return cast(P, adapter)


class AdapterContractError(TypeError):
    """An adapter declares a capability it does not implement."""


def check_capabilities(adapter_class: type[Adapter]) -> None:
    """Every capability the adapter declares must be implemented by its protocol's methods;
    checked once, when adapters load, so a request never finds out."""
    declared = set(adapter_class.capabilities)
    for operation in Operations.all():
        if operation.capability in declared and not _implements(adapter_class, operation.protocol):
            missing = ", ".join(
                m
                for m in _members(operation.protocol)
                if not callable(getattr(adapter_class, m, None))
            )
            raise AdapterContractError(
                f"adapter {adapter_class.name!r} declares {operation.capability.value!r} "
                f"but does not implement {missing}"
            )
    unknown = declared - {operation.capability for operation in Operations.all()}
    if unknown:
        raise AdapterContractError(
            f"adapter {adapter_class.name!r} declares unknown capabilities {sorted(unknown)}"
        )


def _members(protocol: Any) -> list[str]:
    return [name for name in vars(protocol) if not name.startswith("_")]


def _implements(adapter_class: type, protocol: Any) -> bool:
    return all(callable(getattr(adapter_class, name, None)) for name in _members(protocol))


def load_adapters() -> dict[str, type[Adapter]]:
    """Every installed adapter, by provider name, from the `training_gateway.adapters` entry points."""
    found: dict[str, type[Adapter]] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        adapter_class = entry.load()
        check_capabilities(adapter_class)
        found[adapter_class.name] = adapter_class
    return dict(sorted(found.items()))


def provider_info(adapter: type[Adapter] | Adapter, *, connected: bool = False) -> ProviderInfo:
    """The public description of an adapter."""
    return ProviderInfo(
        name=adapter.name,
        display_name=adapter.display_name,
        capabilities=sorted(adapter.capabilities),
        auth_kind=adapter.auth_kind,
        connected=connected,
    )


def registry_names(adapters: Mapping[str, type[Adapter]]) -> list[str]:
    """Provider names in a stable order."""
    return sorted(adapters)
