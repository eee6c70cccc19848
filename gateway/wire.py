"""The gateway's own wire format: the msgspec Structs its API takes and answers that are not
in the unified schema (`models`): pages, curves, connections, webhook endpoints and
deliveries, the problem document.

They live here, apart from the services that fill them, so that a client decodes answers into
the very Structs the server encodes them from without importing Litestar, SQLAlchemy or the
engine (`training_gateway.gateway.client` imports this module and nothing of the server). So
this module imports msgspec and the unified schema only; the services re-export what they
answer with.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec
from msgspec import Meta

from training_gateway.models.activity import Activity
from training_gateway.models.curves import CurveOrientation, CurvePoint, EnvelopePoint
from training_gateway.models.daily import Daily
from training_gateway.models.hr_model.wire import HrMemory, HrModelResult
from training_gateway.models.lab_test import LabTest
from training_gateway.models.trace import Trace

# --- errors -------------------------------------------------------------------------------


class Problem(msgspec.Struct, omit_defaults=True, kw_only=True):
    """An RFC 9457 problem document, with the field or provider at fault when there is one."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    field: str | None = None
    provider: str | None = None
    capability: str | None = None
    # Seconds until the provider takes requests again (a throttle), as Retry-After says.
    retry_after: float | None = None
    errors: list[dict[str, Any]] | None = None


# --- merged lists ---------------------------------------------------------------------------

T = TypeVar("T", Activity, LabTest, Trace)
# How a list reads providers: from the synced index where it is fresh (the default), or live.
Consistency = Literal["index", "live"]
# How an activity is answered: in the unified schema, or also as the provider stores it.
ActivityView = Literal["unified", "raw"]


class ProviderFailure(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A provider that could not contribute to a merged answer, and why; a throttled one
    (status 429) says in `retry_after` how many seconds to wait, when it is known."""

    provider: str
    status: int
    detail: str
    retry_after: float | None = None


class Page(msgspec.Struct, Generic[T], kw_only=True):
    """One page of a merged list; `freshness` names each provider read from the gateway's
    synced index and when that index was last synced with it (the others were read live)."""

    items: list[T]
    next_cursor: str | None
    errors: list[ProviderFailure]
    freshness: dict[str, datetime] = msgspec.field(default_factory=dict)


class ActivityPage(Page[Activity], kw_only=True):
    """One page of the merged activity list."""

    items: list[Activity]  # concrete, for the OpenAPI document


class LabTestPage(Page[LabTest], kw_only=True):
    """One page of the merged lab-test list."""

    items: list[LabTest]  # concrete, for the OpenAPI document


# The name the published API document gives this page (its component and title).
LabTestPage.__name__ = LabTestPage.__qualname__ = "TestPage"


class TracePage(Page[Trace], kw_only=True):
    """One page of the merged trace list."""

    items: list[Trace]  # concrete, for the OpenAPI document


class LabTestDetails(LabTest, kw_only=True):
    """A test with the caller's activities, from any provider, that overlap its time window;
    `errors` names the providers that could not be asked."""

    activities: list[Activity] = msgspec.field(default_factory=list)
    errors: list[ProviderFailure] = msgspec.field(default_factory=list)


class DailyList(msgspec.Struct, kw_only=True):
    """Dailies of the requested measures and days, oldest first, then by measure and provider;
    `errors` names each provider that could not be asked."""

    items: list[Daily]
    errors: list[ProviderFailure]


# --- curves and backfill -------------------------------------------------------------------


class ActivityCurve(msgspec.Struct, kw_only=True):
    activity_id: str
    metric: str
    #: "duration": a point per duration; "intensity": a row per intensity level, `value` the
    #: level and `duration_s` the longest duration sustained at it or above.
    by: CurveOrientation
    source: str
    points: list[CurvePoint]
    # Who thinned the curve for `segmentation=true` (the provider, or "gateway"); None: not.
    segmented_by: str | None = None


class LongitudinalCurve(msgspec.Struct, kw_only=True):
    metric: str
    by: CurveOrientation
    #: Who computed the curve: "gateway", or the provider that was asked for it.
    source: str
    points: list[EnvelopePoint]
    activities: int
    computed: int
    errors: list[ProviderFailure]


class BackfillLine(msgspec.Struct, omit_defaults=True, kw_only=True):
    """The provider's own backfill (`backfill_loaded_until`), or the gateway's index of a
    connection (`index`: the kind of record, its backfill's status and count)."""

    provider: str
    backfill_loaded_until: datetime | None = None
    error: str | None = None
    index: str | None = None
    index_status: str | None = None
    indexed: int | None = None


# --- connections ---------------------------------------------------------------------------

# return_to goes into a Location header: far longer than any app's settings page needs.
MAX_RETURN_TO_CHARS = 2048


class SyncState(msgspec.Struct, kw_only=True):
    """How far a connection's index reaches for one kind of record."""

    kind: str
    backfill_status: str  # pending, running, done, failed
    backfill_indexed: int
    synced_at: datetime | None = None
    newest_start: datetime | None = None
    oldest_start: datetime | None = None
    backfill_detail: str | None = None


class ConnectionView(msgspec.Struct, kw_only=True):
    """One of the caller's provider connections, as GET /v1/connections shows it."""

    provider: str
    status: str  # active, expired or revoked
    scopes: list[str]
    connected_at: datetime
    subject: str | None = None
    expires_at: datetime | None = None
    detail: str | None = None
    # How far the gateway's index of the connection's records reaches, per kind of record:
    # the backfill's status and count, and when it was last reconciled.
    sync: list[SyncState] = msgspec.field(default_factory=list)


class AuthorizationStart(msgspec.Struct, kw_only=True):
    """Where to send the user's browser to connect a provider, and until when that works."""

    authorization_url: str
    expires_at: datetime


class Disconnected(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The outcome of DELETE /v1/connections/{provider}."""

    provider: str
    deleted: bool
    revoked_at_provider: bool
    detail: str | None = None


class Revocation(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What became of a removed connection's grant at its provider: `revoked` there,
    `unsupported` (the provider offers no revocation, or the gateway has no OAuth client
    there), or `failed`, with the provider's HTTP status when it answered one."""

    provider: str
    outcome: Literal["revoked", "unsupported", "failed"]
    status: int | None = None
    detail: str | None = None

    def disconnected(self) -> Disconnected:
        """The same, as DELETE /v1/connections/{provider} and its event say it."""
        detail = self.detail
        if self.outcome == "failed":
            detail = (
                f"the local tokens are deleted, but revoking them at {self.provider} "
                f"failed: {self.detail}"
            )
        return Disconnected(
            provider=self.provider,
            deleted=True,
            revoked_at_provider=self.outcome == "revoked",
            detail=detail,
        )


class ConnectRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Start connecting a provider. `return_to` is where the browser goes afterwards (it must
    be allowed by GATEWAY_RETURN_TO_ALLOWLIST); `login_hint` is passed to the provider."""

    return_to: Annotated[str, Meta(pattern="^https?://", max_length=MAX_RETURN_TO_CHARS)]
    login_hint: Annotated[str, Meta(min_length=1, max_length=320)] | None = None


class BearerConnection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A personal access token the user got from the provider."""

    # Printable ASCII, as a bearer token must be to travel in a header (RFC 6750 allows less).
    access_token: Annotated[str, Meta(min_length=1, max_length=8192, pattern=r"^[\x21-\x7e]+$")]

    def __repr__(self) -> str:
        return "BearerConnection(access_token=<redacted>)"


# --- heart-rate model and uploads ----------------------------------------------------------


class ActivityHrModelRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Settings (TrueZone's, as a JSON string or an object; `fit` defaults to true here and
    `sport` comes from the activity) and whether to start from the kept memory."""

    settings: str | dict[str, Any] | None = None
    use_stored_memory: bool = True


class ActivityHrModelFit(msgspec.Struct, kw_only=True):
    """The fit of one activity, and the memory the gateway now keeps for the sport."""

    activity_id: str
    sport: str
    samples: int
    result: HrModelResult
    memory: HrMemory | None


class UploadAccepted(msgspec.Struct, kw_only=True):
    """A provider took the files and processes them itself (202): its source ids."""

    provider: str
    sources: list[str]


class UploadCreated(msgspec.Struct, kw_only=True):
    """The gateway decoded the files and created one activity per file (201)."""

    provider: str
    items: list[Activity]
    notes: list[str]


# --- events: the apps' webhook endpoints and what they receive ------------------------------

EventType = Literal[
    "activity.created",
    "activity.updated",
    "activity.deleted",
    "test.created",
    "test.updated",
    "test.deleted",
    "connection.connected",
    "connection.refresh_failed",
    "connection.revoked",
    "connection.disconnected",
    "user.deleted",
    "endpoint.disabled",
    "webhook.test",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]


class EndpointRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Register an endpoint: where to POST, and which event types (all when left out)."""

    url: Annotated[str, Meta(pattern="^https?://", max_length=2048)]
    event_types: list[EventType] | None = None
    description: Annotated[str, Meta(max_length=500)] | None = None


class Endpoint(msgspec.Struct, kw_only=True):
    id: str
    url: str
    event_types: list[str]
    description: str | None = None
    created_at: datetime
    failing_since: datetime | None = None
    disabled_at: datetime | None = None
    disabled_reason: str | None = None


class EndpointWithSecret(Endpoint, kw_only=True):
    """An endpoint with its signing secret: shown when created or rotated, never again."""

    secret: str


class EndpointList(msgspec.Struct, kw_only=True):
    items: list[Endpoint]


class DeliveryAttempt(msgspec.Struct, kw_only=True):
    attempt: int
    at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None = None


class Delivery(msgspec.Struct, kw_only=True):
    id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_status_code: int | None = None
    last_latency_ms: float | None = None
    last_error: str | None = None
    attempt_log: list[DeliveryAttempt] = msgspec.field(default_factory=list)


class DeliveryPage(msgspec.Struct, kw_only=True):
    items: list[Delivery]


class EventData(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What an event is about: the resource's id, the provider, the gateway user (by name,
    as the app created them) and the resource itself (its unified form; None when deleted)."""

    id: str | None = None
    provider: str | None = None
    user: str | None = None
    resource: Any = None


class EventBody(msgspec.Struct, kw_only=True):
    """What a receiver gets: the type, when it happened, and the resource (its id alone for a
    deletion)."""

    type: str
    timestamp: datetime
    data: EventData


# --- the service itself --------------------------------------------------------------------


class HookAccepted(msgspec.Struct, kw_only=True):
    """The gateway has the webhook (`duplicate`: it had it already) and will process it."""

    accepted: bool
    duplicate: bool


class Health(msgspec.Struct):
    status: str
    providers: list[str]


class Index(msgspec.Struct, kw_only=True):
    name: str
    version: str
    api: str
    docs: str
    openapi: str
    health: str


class Erased(msgspec.Struct, kw_only=True):
    """How many of each kind of row the gateway deleted of a user."""

    api_keys: int = 0
    connections: int = 0
    # Connections started and never finished (OAuth state).
    pending_connections: int = 0
    local_activities: int = 0
    local_tests: int = 0
    local_traces: int = 0
    local_dailies: int = 0
    # The apps' JSON the gateway kept on records of providers that cannot hold it.
    app_metadata: int = 0
    # Samples of uploaded FIT files, kept for providers that store none.
    activity_streams: int = 0
    mean_max_curves: int = 0
    hr_model_memories: int = 0
    hr_model_fits: int = 0
    # The per-connection index of records, and how far each connection's index reaches.
    indexed_records: int = 0
    sync_states: int = 0
    # Events about the user (their deliveries and delivery attempts go with them).
    events: int = 0


class UserDeleted(msgspec.Struct, kw_only=True):
    """What deleting a user did: per connected provider, what became of its grant there
    (`revoked`, `unsupported` by the provider, or `failed` with the provider's status and
    why); and how many of each kind of record the gateway deleted of its own."""

    user: str
    providers: list[Revocation]
    removed: Erased
