"""Every API operation as a `Call`: the request to send and how to read its answer, with no
I/O, so the sync and the async client send the same requests and decode the same answers.

`ROUTES` maps each route of the API (method, path as openapi/openapi.json writes it) to the
client method that calls it; a test holds it to the published document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from training_gateway.adapters.base import ProviderInfo
from training_gateway.gateway.client import frames
from training_gateway.gateway.wire import (
    ActivityCurve,
    ActivityHrModelFit,
    ActivityHrModelRequest,
    ActivityPage,
    ActivityView,
    AuthorizationStart,
    BackfillLine,
    BearerConnection,
    ConnectionView,
    ConnectRequest,
    Consistency,
    DailyList,
    Delivery,
    DeliveryPage,
    Disconnected,
    Endpoint,
    EndpointList,
    EndpointRequest,
    EndpointWithSecret,
    Health,
    HookAccepted,
    Index,
    LabTestDetails,
    LabTestPage,
    LongitudinalCurve,
    TracePage,
    UploadAccepted,
    UploadCreated,
    UserDeleted,
)
from training_gateway.models.activity import (
    Activity,
    ActivityCreate,
    ActivityDraft,
    ActivityPatch,
)
from training_gateway.models.daily import Daily, DailyValue
from training_gateway.models.hr_model.wire import (
    HrModelFitRequest,
    HrModelFitResponse,
    HrModelProfile,
)
from training_gateway.models.lab_test import (
    LabTest,
    LabTestCreate,
    LabTestDraft,
    LabTestPatch,
)
from training_gateway.models.trace import Trace, TraceCreate, TraceDraft

T = TypeVar("T")
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
FIT = "application/vnd.ant.fit"

# A query parameter's value as a caller gives it: one value, or several (repeated).
Scalar = str | int | float | bool | date | datetime
QueryValue = Scalar | Sequence[Scalar] | None
# An upload: a path, or (file name, content).
UploadFile = str | Path | tuple[str, bytes]


@dataclass
class Call(Generic[T]):
    """One request, and how its answer becomes a `T` (the answer is a success: errors are
    raised before `read` sees it)."""

    method: str
    path: str
    read: Callable[[httpx.Response], T]
    params: list[tuple[str, str]] = field(default_factory=list)
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None
    data: dict[str, str] | None = None
    admin: bool = False  # sent with the admin key (the webhook endpoints' routes)


def decoded(kind: Any) -> Callable[[httpx.Response], Any]:
    """Read the answer's JSON as `kind` (a Struct, a list of them, a union)."""
    decoder = msgspec.json.Decoder(kind)
    return lambda response: decoder.decode(response.content)


def nothing(response: httpx.Response) -> None:
    return None


def _segment(value: str) -> str:
    """A path segment; federated ids keep their `:` (`sweatstack:abc`)."""
    return quote(value, safe=":@")


def query(**values: QueryValue) -> list[tuple[str, str]]:
    """Query parameters by their wire names (a trailing `_` is dropped): lists repeat, None is
    left out, dates and datetimes in ISO 8601, booleans as true/false."""
    found: list[tuple[str, str]] = []
    for name, value in values.items():
        wire = name.rstrip("_")
        if value is None:
            continue
        if isinstance(value, str | int | float | date):
            found.append((wire, _text(value)))
        else:
            found.extend((wire, _text(item)) for item in value)
    return found


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _json(body: Any) -> bytes:
    return msgspec.json.encode(body)


def _many(values: str | Iterable[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [values] if isinstance(values, str) else list(values)


def _durations(durations: str | Iterable[int] | None) -> str | None:
    if durations is None or isinstance(durations, str):
        return durations
    return ",".join(str(d) for d in durations)


# --- the service ---------------------------------------------------------------------------


def index() -> Call[Index]:
    return Call("GET", "/", decoded(Index))


def health() -> Call[Health]:
    return Call("GET", "/health", decoded(Health))


def list_providers() -> Call[list[ProviderInfo]]:
    return Call("GET", "/v1/providers", decoded(list[ProviderInfo]))


# --- connections ---------------------------------------------------------------------------


def list_connections() -> Call[list[ConnectionView]]:
    return Call("GET", "/v1/connections", decoded(list[ConnectionView]))


def connect(provider: str, return_to: str, login_hint: str | None) -> Call[AuthorizationStart]:
    body = ConnectRequest(return_to=return_to, login_hint=login_hint)
    return Call(
        "POST",
        f"/v1/connections/{_segment(provider)}",
        decoded(AuthorizationStart),
        content=_json(body),
        headers={"Content-Type": JSON},
    )


def connect_with_token(provider: str, access_token: str) -> Call[ConnectionView]:
    return Call(
        "PUT",
        f"/v1/connections/{_segment(provider)}",
        decoded(ConnectionView),
        content=_json(BearerConnection(access_token=access_token)),
        headers={"Content-Type": JSON},
    )


def disconnect(provider: str) -> Call[Disconnected]:
    return Call("DELETE", f"/v1/connections/{_segment(provider)}", decoded(Disconnected))


def delete_me() -> Call[UserDeleted]:
    return Call("DELETE", "/v1/me", decoded(UserDeleted))


def _location(response: httpx.Response) -> str:
    return response.headers["location"]


def complete_connection(
    provider: str,
    *,
    code: str | None,
    state: str | None,
    error: str | None,
    error_description: str | None,
) -> Call[str]:
    """The provider's redirect back, relayed (for a browser-less flow): where the gateway then
    sends the browser (`return_to?connected=<provider>`)."""
    return Call(
        "GET",
        f"/v1/connections/{_segment(provider)}/callback",
        _location,
        params=query(code=code, state=state, error=error, error_description=error_description),
    )


# --- activities ----------------------------------------------------------------------------


def list_activities(
    *,
    start: date | datetime | None,
    end: date | datetime | None,
    sport: str | Iterable[str] | None,
    status: str | Iterable[str] | None,
    provider: str | Iterable[str] | None,
    tags: str | Iterable[str] | None,
    limit: int | None,
    cursor: str | None,
    consistency: Consistency | None,
    athlete: str | None,
    plan_instance_id: str | None,
    view: ActivityView | None,
) -> Call[ActivityPage]:
    return Call(
        "GET",
        "/v1/activities",
        decoded(ActivityPage),
        params=query(
            start=start,
            end=end,
            sport=_many(sport),
            status=_many(status),
            provider=_many(provider),
            tags=_many(tags),
            limit=limit,
            cursor=cursor,
            consistency=consistency,
            athlete=athlete,
            plan_instance_id=plan_instance_id,
            view=view,
        ),
    )


def get_activity(activity_id: str, view: ActivityView | None) -> Call[Activity]:
    return Call(
        "GET",
        f"/v1/activities/{_segment(activity_id)}",
        decoded(Activity),
        params=query(view=view),
    )


def create_activity(activity: ActivityCreate) -> Call[Activity]:
    return Call(
        "POST",
        "/v1/activities",
        decoded(Activity),
        content=_json(activity),
        headers={"Content-Type": JSON},
    )


def replace_activity(activity_id: str, activity: ActivityDraft) -> Call[Activity]:
    return Call(
        "PUT",
        f"/v1/activities/{_segment(activity_id)}",
        decoded(Activity),
        content=_json(activity),
        headers={"Content-Type": JSON},
    )


def patch_activity(activity_id: str, patch: ActivityPatch | Mapping[str, Any]) -> Call[Activity]:
    return Call(
        "PATCH",
        f"/v1/activities/{_segment(activity_id)}",
        decoded(Activity),
        content=_json(patch),
        headers={"Content-Type": MERGE_PATCH},
    )


def delete_activity(activity_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/activities/{_segment(activity_id)}", nothing)


def put_activity_app_metadata(activity_id: str, metadata: Mapping[str, Any]) -> Call[None]:
    return Call(
        "PUT",
        f"/v1/activities/{_segment(activity_id)}/app-metadata",
        nothing,
        content=_json(metadata),
        headers={"Content-Type": JSON},
    )


def delete_activity_app_metadata(activity_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/activities/{_segment(activity_id)}/app-metadata", nothing)


def upload(provider: str, files: Sequence[UploadFile]) -> Call[UploadAccepted | UploadCreated]:
    parts: list[tuple[str, tuple[str, bytes, str]]] = []
    for item in files:
        if isinstance(item, tuple):
            name, content = item
        else:
            path = Path(item)
            name, content = path.name, path.read_bytes()
        parts.append(("files", (name, content, FIT)))
    accepted = decoded(UploadAccepted)
    created = decoded(UploadCreated)

    def read(response: httpx.Response) -> UploadAccepted | UploadCreated:
        # 202: the provider processes the files itself; 201: the gateway created activities.
        return accepted(response) if response.status_code == 202 else created(response)

    return Call("POST", "/v1/activities/upload", read, files=parts, data={"provider": provider})


# --- timeseries and mean-max ---------------------------------------------------------------


def activity_data(
    activity_id: str,
    *,
    metrics: str | Iterable[str] | None,
    segmentation_on: str | None,
    output: str,
) -> Call[Any]:
    frames.check_output(output)

    def read(response: httpx.Response) -> Any:
        table = frames.read_table(
            response.content, segmented_by=response.headers.get("segmented-by")
        )
        return frames.convert(table, output)

    return Call(
        "GET",
        f"/v1/activities/{_segment(activity_id)}/data",
        read,
        params=query(metrics=_many(metrics), segmentation_on=segmentation_on),
        headers={"Accept": frames.ACCEPT},
    )


def longitudinal_data(
    *,
    sport: str | Iterable[str] | None,
    start: date | datetime | None,
    end: date | datetime | None,
    metrics: str | Iterable[str] | None,
    segmentation_on: str | None,
    provider: str | Iterable[str] | None,
    output: str,
) -> Call[frames.LongitudinalData[Any]]:
    frames.check_output(output)

    def read(response: httpx.Response) -> frames.LongitudinalData[Any]:
        table, errors = frames.read_longitudinal(response.content)
        return frames.LongitudinalData(frames.convert(table, output), errors)

    return Call(
        "GET",
        "/v1/activities/longitudinal-data",
        read,
        params=query(
            sport=_many(sport),
            start=start,
            end=end,
            metrics=_many(metrics),
            segmentation_on=segmentation_on,
            provider=_many(provider),
        ),
        headers={"Accept": frames.ACCEPT},
    )


def activity_mean_max(
    activity_id: str,
    *,
    metric: str,
    durations: str | Iterable[int] | None,
    segmentation: bool | None,
    by: str | None,
) -> Call[ActivityCurve]:
    return Call(
        "GET",
        f"/v1/activities/{_segment(activity_id)}/mean-max",
        decoded(ActivityCurve),
        params=query(
            metric=metric, durations=_durations(durations), segmentation=segmentation, by=by
        ),
    )


def longitudinal_mean_max(
    *,
    metric: str,
    sport: str | Iterable[str] | None,
    start: date | datetime | None,
    end: date | datetime | None,
    durations: str | Iterable[int] | None,
    after: Iterable[float] | None,
    by: str | None,
    provider: str | Iterable[str] | None,
) -> Call[LongitudinalCurve]:
    return Call(
        "GET",
        "/v1/activities/longitudinal-mean-max",
        decoded(LongitudinalCurve),
        params=query(
            metric=metric,
            sport=_many(sport),
            start=start,
            end=end,
            durations=_durations(durations),
            after=list(after) if after is not None else None,
            by=by,
            provider=_many(provider),
        ),
    )


BACKFILL_STATUS_PATH = "/v1/activities/backfill-status"
backfill_line = msgspec.json.Decoder(BackfillLine)


# --- heart-rate model ----------------------------------------------------------------------


def fit_hr_model(
    request: HrModelFitRequest, use_stored_memory: bool | None
) -> Call[HrModelFitResponse]:
    return Call(
        "POST",
        "/v1/hr-model/fit",
        decoded(HrModelFitResponse),
        params=query(use_stored_memory=use_stored_memory),
        content=_json(request),
        headers={"Content-Type": JSON},
    )


def fit_activity_hr_model(
    activity_id: str, request: ActivityHrModelRequest
) -> Call[ActivityHrModelFit]:
    return Call(
        "POST",
        f"/v1/activities/{_segment(activity_id)}/hr-model",
        decoded(ActivityHrModelFit),
        content=_json(request),
        headers={"Content-Type": JSON},
    )


def hr_model_profile(sport: str, limit: int | None) -> Call[HrModelProfile]:
    return Call(
        "GET",
        "/v1/hr-model/profile",
        decoded(HrModelProfile),
        params=query(sport=sport, limit=limit),
    )


# --- lab tests -----------------------------------------------------------------------------


def list_tests(
    *,
    start: date | datetime | None,
    end: date | datetime | None,
    sport: str | Iterable[str] | None,
    tags: str | Iterable[str] | None,
    created_by: str | None,
    provider: str | Iterable[str] | None,
    limit: int | None,
    cursor: str | None,
    consistency: Consistency | None,
) -> Call[LabTestPage]:
    return Call(
        "GET",
        "/v1/tests",
        decoded(LabTestPage),
        params=query(
            start=start,
            end=end,
            sport=_many(sport),
            tags=_many(tags),
            created_by=created_by,
            provider=_many(provider),
            limit=limit,
            cursor=cursor,
            consistency=consistency,
        ),
    )


def get_test(test_id: str) -> Call[LabTestDetails]:
    return Call("GET", f"/v1/tests/{_segment(test_id)}", decoded(LabTestDetails))


def get_test_with_etag(test_id: str) -> Call[tuple[LabTestDetails, str]]:
    """The test and its ETag, for `patch_test(..., if_match=)`. The ETag is the server's: it
    hashes the provider's record, which a client cannot rebuild from the JSON it got."""
    details = decoded(LabTestDetails)
    return Call(
        "GET",
        f"/v1/tests/{_segment(test_id)}",
        lambda response: (details(response), response.headers["etag"]),
    )


def create_test(test: LabTestCreate) -> Call[LabTest]:
    return Call(
        "POST", "/v1/tests", decoded(LabTest), content=_json(test), headers={"Content-Type": JSON}
    )


def replace_test(test_id: str, test: LabTestDraft) -> Call[LabTest]:
    return Call(
        "PUT",
        f"/v1/tests/{_segment(test_id)}",
        decoded(LabTest),
        content=_json(test),
        headers={"Content-Type": JSON},
    )


def patch_test(
    test_id: str, patch: LabTestPatch | Mapping[str, Any], if_match: str | None
) -> Call[LabTest]:
    headers = {"Content-Type": MERGE_PATCH}
    if if_match is not None:
        headers["If-Match"] = if_match
    return Call(
        "PATCH",
        f"/v1/tests/{_segment(test_id)}",
        decoded(LabTest),
        content=_json(patch),
        headers=headers,
    )


def delete_test(test_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/tests/{_segment(test_id)}", nothing)


def put_test_app_metadata(test_id: str, metadata: Mapping[str, Any]) -> Call[None]:
    return Call(
        "PUT",
        f"/v1/tests/{_segment(test_id)}/app-metadata",
        nothing,
        content=_json(metadata),
        headers={"Content-Type": JSON},
    )


def delete_test_app_metadata(test_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/tests/{_segment(test_id)}/app-metadata", nothing)


# --- dailies and traces --------------------------------------------------------------------


def list_dailies(
    *,
    start: date,
    end: date,
    measure: str | Iterable[str] | None,
    provider: str | Iterable[str] | None,
    interpolate: bool | None,
) -> Call[DailyList]:
    return Call(
        "GET",
        "/v1/dailies",
        decoded(DailyList),
        params=query(
            start=start,
            end=end,
            measure=_many(measure),
            provider=_many(provider),
            interpolate=interpolate,
        ),
    )


def set_daily(daily_id: str, value: float) -> Call[Daily]:
    return Call(
        "PUT",
        f"/v1/dailies/{_segment(daily_id)}",
        decoded(Daily),
        content=_json(DailyValue(value=value)),
        headers={"Content-Type": JSON},
    )


def delete_daily(daily_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/dailies/{_segment(daily_id)}", nothing)


def list_traces(
    *,
    start: date | datetime | None,
    end: date | datetime | None,
    sport: str | Iterable[str] | None,
    tags: str | Iterable[str] | None,
    provider: str | Iterable[str] | None,
    limit: int | None,
    cursor: str | None,
) -> Call[TracePage]:
    return Call(
        "GET",
        "/v1/traces",
        decoded(TracePage),
        params=query(
            start=start,
            end=end,
            sport=_many(sport),
            tags=_many(tags),
            provider=_many(provider),
            limit=limit,
            cursor=cursor,
        ),
    )


def get_trace(trace_id: str) -> Call[Trace]:
    return Call("GET", f"/v1/traces/{_segment(trace_id)}", decoded(Trace))


def create_trace(trace: TraceCreate) -> Call[Trace]:
    return Call(
        "POST", "/v1/traces", decoded(Trace), content=_json(trace), headers={"Content-Type": JSON}
    )


def replace_trace(trace_id: str, trace: TraceDraft) -> Call[Trace]:
    return Call(
        "PUT",
        f"/v1/traces/{_segment(trace_id)}",
        decoded(Trace),
        content=_json(trace),
        headers={"Content-Type": JSON},
    )


def delete_trace(trace_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/traces/{_segment(trace_id)}", nothing)


# --- provider webhooks in, and the apps' webhook endpoints (admin) -------------------------


def relay_provider_webhook(
    provider: str, body: bytes, headers: Mapping[str, str]
) -> Call[HookAccepted]:
    """A provider's signed webhook passed on as received (its signature headers included)."""
    return Call(
        "POST",
        f"/v1/hooks/{_segment(provider)}",
        decoded(HookAccepted),
        content=body,
        headers=dict(headers),
    )


def _endpoint(endpoint_id: str) -> str:
    return f"/v1/webhooks/{_segment(endpoint_id)}"


def create_webhook_endpoint(request: EndpointRequest) -> Call[EndpointWithSecret]:
    return Call(
        "POST",
        "/v1/webhooks",
        decoded(EndpointWithSecret),
        content=_json(request),
        headers={"Content-Type": JSON},
        admin=True,
    )


def list_webhook_endpoints() -> Call[list[Endpoint]]:
    page = decoded(EndpointList)
    return Call("GET", "/v1/webhooks", lambda r: page(r).items, admin=True)


def get_webhook_endpoint(endpoint_id: str) -> Call[Endpoint]:
    return Call("GET", _endpoint(endpoint_id), decoded(Endpoint), admin=True)


def delete_webhook_endpoint(endpoint_id: str) -> Call[None]:
    return Call("DELETE", _endpoint(endpoint_id), nothing, admin=True)


def rotate_webhook_secret(endpoint_id: str) -> Call[EndpointWithSecret]:
    return Call(
        "POST",
        f"{_endpoint(endpoint_id)}/rotate-secret",
        decoded(EndpointWithSecret),
        admin=True,
    )


def enable_webhook_endpoint(endpoint_id: str) -> Call[Endpoint]:
    return Call("POST", f"{_endpoint(endpoint_id)}/enable", decoded(Endpoint), admin=True)


def send_test_webhook(endpoint_id: str) -> Call[Delivery]:
    return Call("POST", f"{_endpoint(endpoint_id)}/test", decoded(Delivery), admin=True)


def list_deliveries(
    endpoint_id: str, status: str | None, limit: int | None
) -> Call[list[Delivery]]:
    page = decoded(DeliveryPage)
    return Call(
        "GET",
        f"{_endpoint(endpoint_id)}/deliveries",
        lambda r: page(r).items,
        params=query(status=status, limit=limit),
        admin=True,
    )


def get_delivery(endpoint_id: str, delivery_id: str) -> Call[Delivery]:
    return Call(
        "GET",
        f"{_endpoint(endpoint_id)}/deliveries/{_segment(delivery_id)}",
        decoded(Delivery),
        admin=True,
    )


def redeliver(endpoint_id: str, delivery_id: str) -> Call[Delivery]:
    return Call(
        "POST",
        f"{_endpoint(endpoint_id)}/deliveries/{_segment(delivery_id)}/redeliver",
        decoded(Delivery),
        admin=True,
    )


# (method, path in openapi/openapi.json) -> the client method that calls it (both clients).
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/"): "index",
    ("GET", "/health"): "health",
    ("GET", "/v1/providers"): "list_providers",
    ("GET", "/v1/connections"): "list_connections",
    ("POST", "/v1/connections/{provider}"): "connect",
    ("PUT", "/v1/connections/{provider}"): "connect_with_token",
    ("DELETE", "/v1/connections/{provider}"): "disconnect",
    ("DELETE", "/v1/me"): "delete_me",
    ("GET", "/v1/connections/{provider}/callback"): "complete_connection",
    ("GET", "/v1/activities"): "list_activities",
    ("POST", "/v1/activities"): "create_activity",
    ("GET", "/v1/activities/{activity_id}"): "get_activity",
    ("PUT", "/v1/activities/{activity_id}"): "replace_activity",
    ("PATCH", "/v1/activities/{activity_id}"): "patch_activity",
    ("DELETE", "/v1/activities/{activity_id}"): "delete_activity",
    ("PUT", "/v1/activities/{activity_id}/app-metadata"): "put_activity_app_metadata",
    ("DELETE", "/v1/activities/{activity_id}/app-metadata"): "delete_activity_app_metadata",
    ("POST", "/v1/activities/upload"): "upload",
    ("GET", "/v1/activities/{activity_id}/data"): "activity_data",
    ("GET", "/v1/activities/longitudinal-data"): "longitudinal_data",
    ("GET", "/v1/activities/{activity_id}/mean-max"): "activity_mean_max",
    ("GET", "/v1/activities/longitudinal-mean-max"): "longitudinal_mean_max",
    ("GET", "/v1/activities/backfill-status"): "iter_backfill_status",
    ("POST", "/v1/activities/{activity_id}/hr-model"): "fit_activity_hr_model",
    ("POST", "/v1/hr-model/fit"): "fit_hr_model",
    ("GET", "/v1/hr-model/profile"): "hr_model_profile",
    ("GET", "/v1/tests"): "list_tests",
    ("POST", "/v1/tests"): "create_test",
    ("GET", "/v1/tests/{test_id}"): "get_test",
    ("PUT", "/v1/tests/{test_id}"): "replace_test",
    ("PATCH", "/v1/tests/{test_id}"): "patch_test",
    ("DELETE", "/v1/tests/{test_id}"): "delete_test",
    ("PUT", "/v1/tests/{test_id}/app-metadata"): "put_test_app_metadata",
    ("DELETE", "/v1/tests/{test_id}/app-metadata"): "delete_test_app_metadata",
    ("GET", "/v1/dailies"): "list_dailies",
    ("PUT", "/v1/dailies/{daily_id}"): "set_daily",
    ("DELETE", "/v1/dailies/{daily_id}"): "delete_daily",
    ("GET", "/v1/traces"): "list_traces",
    ("POST", "/v1/traces"): "create_trace",
    ("GET", "/v1/traces/{trace_id}"): "get_trace",
    ("PUT", "/v1/traces/{trace_id}"): "replace_trace",
    ("DELETE", "/v1/traces/{trace_id}"): "delete_trace",
    ("POST", "/v1/hooks/{provider}"): "relay_provider_webhook",
    ("POST", "/v1/webhooks"): "create_webhook_endpoint",
    ("GET", "/v1/webhooks"): "list_webhook_endpoints",
    ("GET", "/v1/webhooks/{endpoint_id}"): "get_webhook_endpoint",
    ("DELETE", "/v1/webhooks/{endpoint_id}"): "delete_webhook_endpoint",
    ("POST", "/v1/webhooks/{endpoint_id}/rotate-secret"): "rotate_webhook_secret",
    ("POST", "/v1/webhooks/{endpoint_id}/enable"): "enable_webhook_endpoint",
    ("POST", "/v1/webhooks/{endpoint_id}/test"): "send_test_webhook",
    ("GET", "/v1/webhooks/{endpoint_id}/deliveries"): "list_deliveries",
    ("GET", "/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}"): "get_delivery",
    (
        "POST",
        "/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    ): "redeliver",
}
