"""`AsyncGatewayClient`: the gateway's API from asyncio code, on httpx.

Generated from sync.py by _unasync.py: edit sync.py, then run
`python -m training_gateway.gateway.client._unasync`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import httpx
import pyarrow as pa

from training_gateway.adapters.base import ProviderInfo
from training_gateway.gateway.client import calls
from training_gateway.gateway.client._base import (
    DEFAULT_TIMEOUT_S,
    ClientSettings,
    CursorWalk,
    answer_of,
    check_errors_mode,
)
from training_gateway.gateway.client.calls import Call, UploadFile
from training_gateway.gateway.client.errors import error_for, unreachable
from training_gateway.gateway.client.frames import LongitudinalData, Output
from training_gateway.gateway.wire import (
    ActivityCurve,
    ActivityHrModelFit,
    ActivityHrModelRequest,
    ActivityPage,
    ActivityView,
    AuthorizationStart,
    BackfillLine,
    ConnectionView,
    Consistency,
    DailyList,
    Delivery,
    Disconnected,
    Endpoint,
    EndpointRequest,
    EndpointWithSecret,
    EventType,
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
from training_gateway.models.daily import Daily
from training_gateway.models.hr_model.wire import (
    HrModelFitRequest,
    HrModelFitResponse,
    HrModelProfile,
)
from training_gateway.models.lab_test import LabTest, LabTestCreate, LabTestDraft, LabTestPatch
from training_gateway.models.trace import Trace, TraceCreate, TraceDraft

if TYPE_CHECKING:
    import pandas
    import polars

T = TypeVar("T")
Day = date | datetime
Many = str | Iterable[str]


class AsyncGatewayClient:
    """The gateway's API: each route a method, each answer the Struct the server sends.

    `GatewayClient("http://127.0.0.1:8000", api_key=KEY)`; `admin_key` for the webhook
    endpoints' routes. Pass `http_client` to use your own httpx.AsyncClient (it is not closed
    here), or `transport` to put one under this client's own (as in tests)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        admin_key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT_S,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = ClientSettings(base_url, api_key, admin_key)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout, transport=transport)

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncGatewayClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(**self._settings.request_arguments(call))
        except httpx.TransportError as exc:
            raise unreachable(exc) from exc
        result: T = answer_of(call, response)
        return result

    # --- the service ---------------------------------------------------------------------

    async def index(self) -> Index:
        """Where the API, its docs and the health check are."""
        return await self._send(calls.index())

    async def health(self) -> Health:
        """Liveness and storage check."""
        return await self._send(calls.health())

    async def list_providers(self) -> list[ProviderInfo]:
        """Each provider: capabilities, auth kind, whether the caller is connected."""
        return await self._send(calls.list_providers())

    # --- connections ---------------------------------------------------------------------

    async def list_connections(self) -> list[ConnectionView]:
        """The caller's provider connections and how far their index reaches."""
        return await self._send(calls.list_connections())

    async def connect(
        self, provider: str, return_to: str, *, login_hint: str | None = None
    ) -> AuthorizationStart:
        """Start connecting a provider: the authorization URL to send the user's browser to."""
        return await self._send(calls.connect(provider, return_to, login_hint))

    async def connect_with_token(self, provider: str, access_token: str) -> ConnectionView:
        """Connect a provider with a personal access token, where it allows one."""
        return await self._send(calls.connect_with_token(provider, access_token))

    async def disconnect(self, provider: str) -> Disconnected:
        """Revoke at the provider where it can, and delete the stored tokens."""
        return await self._send(calls.disconnect(provider))

    async def delete_me(self) -> UserDeleted:
        """Leave: revoke every connection at its provider where it allows, and delete all the
        gateway holds of the caller (answers what became of each provider's grant and how
        many records were deleted); the key stops working."""
        return await self._send(calls.delete_me())

    async def complete_connection(
        self,
        provider: str,
        *,
        code: str | None = None,
        state: str | None = None,
        error: str | None = None,
        error_description: str | None = None,
    ) -> str:
        """Relay the provider's redirect back (what a browser does): where the gateway then
        sends the browser, `return_to?connected=<provider>`."""
        return await self._send(
            calls.complete_connection(
                provider, code=code, state=state, error=error, error_description=error_description
            )
        )

    # --- activities ----------------------------------------------------------------------

    async def list_activities(
        self,
        *,
        start: Day | None = None,
        end: Day | None = None,
        sport: Many | None = None,
        status: Many | None = None,
        provider: Many | None = None,
        tags: Many | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        consistency: Consistency | None = None,
        athlete: str | None = None,
        plan_instance_id: str | None = None,
        view: ActivityView | None = None,
    ) -> ActivityPage:
        """One page of the activities merged across the caller's providers, newest first."""
        return await self._send(
            calls.list_activities(
                start=start,
                end=end,
                sport=sport,
                status=status,
                provider=provider,
                tags=tags,
                limit=limit,
                cursor=cursor,
                consistency=consistency,
                athlete=athlete,
                plan_instance_id=plan_instance_id,
                view=view,
            )
        )

    async def iter_activities(
        self,
        *,
        start: Day | None = None,
        end: Day | None = None,
        sport: Many | None = None,
        status: Many | None = None,
        provider: Many | None = None,
        tags: Many | None = None,
        limit: int | None = None,
        consistency: Consistency | None = None,
        athlete: str | None = None,
        plan_instance_id: str | None = None,
        view: ActivityView | None = None,
        errors: Literal["raise", "ignore"] = "raise",
    ) -> AsyncIterator[Activity]:
        """Every matching activity once, walking `next_cursor` (`limit` per page). Providers
        still failing at the end raise ListingIncomplete (errors="raise") after the others'
        activities are all yielded."""
        check_errors_mode(errors)
        walk = CursorWalk()
        while not walk.done:
            page = await self.list_activities(
                start=start,
                end=end,
                sport=sport,
                status=status,
                provider=provider,
                tags=tags,
                limit=limit,
                cursor=walk.cursor,
                consistency=consistency,
                athlete=athlete,
                plan_instance_id=plan_instance_id,
                view=view,
            )
            for item in page.items:
                yield item
            walk.advance(page.next_cursor, len(page.items), page.errors)
        walk.finish(errors)

    async def get_activity(self, activity_id: str, *, view: ActivityView | None = None) -> Activity:
        """One activity by its federated id (`<provider>:<native id>`)."""
        return await self._send(calls.get_activity(activity_id, view))

    async def create_activity(self, activity: ActivityCreate) -> Activity:
        """Create an activity at the provider it names."""
        return await self._send(calls.create_activity(activity))

    async def replace_activity(self, activity_id: str, activity: ActivityDraft) -> Activity:
        """Replace an activity: optional fields left out become empty."""
        return await self._send(calls.replace_activity(activity_id, activity))

    async def patch_activity(
        self, activity_id: str, patch: ActivityPatch | Mapping[str, Any]
    ) -> Activity:
        """Update an activity with a JSON merge patch (RFC 7396)."""
        return await self._send(calls.patch_activity(activity_id, patch))

    async def delete_activity(self, activity_id: str) -> None:
        """Delete an activity at its provider."""
        return await self._send(calls.delete_activity(activity_id))

    async def put_activity_app_metadata(
        self, activity_id: str, metadata: Mapping[str, Any]
    ) -> None:
        """Attach your app's JSON (at most 1 KB) to an activity."""
        return await self._send(calls.put_activity_app_metadata(activity_id, metadata))

    async def delete_activity_app_metadata(self, activity_id: str) -> None:
        """Remove your app's JSON from an activity."""
        return await self._send(calls.delete_activity_app_metadata(activity_id))

    async def upload(
        self, files: Sequence[UploadFile], *, provider: str
    ) -> UploadAccepted | UploadCreated:
        """Upload FIT files (paths, or (name, bytes)) to a provider: UploadAccepted when it
        processes them itself, UploadCreated with the activities the gateway made."""
        return await self._send(calls.upload(provider, files))

    # --- timeseries and mean-max ---------------------------------------------------------

    @overload
    async def activity_data(
        self,
        activity_id: str,
        *,
        metrics: Many | None = None,
        segmentation_on: str | None = None,
        output: Literal["pyarrow"] = "pyarrow",
    ) -> pa.Table: ...
    @overload
    async def activity_data(
        self,
        activity_id: str,
        *,
        metrics: Many | None = None,
        segmentation_on: str | None = None,
        output: Literal["pandas"],
    ) -> pandas.DataFrame: ...
    @overload
    async def activity_data(
        self,
        activity_id: str,
        *,
        metrics: Many | None = None,
        segmentation_on: str | None = None,
        output: Literal["polars"],
    ) -> polars.DataFrame: ...
    async def activity_data(
        self,
        activity_id: str,
        *,
        metrics: Many | None = None,
        segmentation_on: str | None = None,
        output: Output = "pyarrow",
    ) -> Any:
        """An activity's samples as a frame (pyarrow Table by default; pandas or polars when
        `output=` says so). Segmented (`segmentation_on="power"`), who segmented it is kept:
        the Table's schema metadata `gateway.segmented_by`, a pandas frame's attrs."""
        return await self._send(
            calls.activity_data(
                activity_id, metrics=metrics, segmentation_on=segmentation_on, output=output
            )
        )

    @overload
    async def longitudinal_data(
        self,
        *,
        sport: Many | None = None,
        start: Day | None = None,
        end: Day | None = None,
        metrics: Many | None = None,
        segmentation_on: str | None = None,
        provider: Many | None = None,
        output: Literal["pyarrow"] = "pyarrow",
    ) -> LongitudinalData[pa.Table]: ...
    @overload
    async def longitudinal_data(
        self,
        *,
        sport: Many | None = None,
        start: Day | None = None,
        end: Day | None = None,
        metrics: Many | None = None,
        segmentation_on: str | None = None,
        provider: Many | None = None,
        output: Literal["pandas"],
    ) -> LongitudinalData[pandas.DataFrame]: ...
    @overload
    async def longitudinal_data(
        self,
        *,
        sport: Many | None = None,
        start: Day | None = None,
        end: Day | None = None,
        metrics: Many | None = None,
        segmentation_on: str | None = None,
        provider: Many | None = None,
        output: Literal["polars"],
    ) -> LongitudinalData[polars.DataFrame]: ...
    async def longitudinal_data(
        self,
        *,
        sport: Many | None = None,
        start: Day | None = None,
        end: Day | None = None,
        metrics: Many | None = None,
        segmentation_on: str | None = None,
        provider: Many | None = None,
        output: Output = "pyarrow",
    ) -> Any:
        """The samples of every matching recorded activity (with activity_id, provider and
        sport columns) as one frame, and what failed on the way."""
        return await self._send(
            calls.longitudinal_data(
                sport=sport,
                start=start,
                end=end,
                metrics=metrics,
                segmentation_on=segmentation_on,
                provider=provider,
                output=output,
            )
        )

    async def activity_mean_max(
        self,
        activity_id: str,
        *,
        metric: str,
        durations: str | Iterable[int] | None = None,
        segmentation: bool | None = None,
        by: str | None = None,
    ) -> ActivityCurve:
        """An activity's mean-max curve of `power`, `speed` or `heart_rate`."""
        return await self._send(
            calls.activity_mean_max(
                activity_id, metric=metric, durations=durations, segmentation=segmentation, by=by
            )
        )

    async def longitudinal_mean_max(
        self,
        *,
        metric: str,
        sport: Many | None = None,
        start: Day | None = None,
        end: Day | None = None,
        durations: str | Iterable[int] | None = None,
        after: Iterable[float] | None = None,
        by: str | None = None,
        provider: Many | None = None,
    ) -> LongitudinalCurve:
        """The best-ever curve across providers, each point attributed to its activity."""
        return await self._send(
            calls.longitudinal_mean_max(
                metric=metric,
                sport=sport,
                start=start,
                end=end,
                durations=durations,
                after=after,
                by=by,
                provider=provider,
            )
        )

    async def iter_backfill_status(self) -> AsyncIterator[BackfillLine]:
        """The backfill progress lines as the gateway streams them, until it closes the stream
        (every provider's stream has closed, or 60 s)."""
        call: Call[None] = Call("GET", calls.BACKFILL_STATUS_PATH, calls.nothing)
        arguments = self._settings.request_arguments(call)
        try:
            async with self._http.stream(**arguments) as response:
                if not response.is_success:
                    await response.aread()
                    raise error_for(response)
                async for line in response.aiter_lines():
                    if line.strip():
                        yield calls.backfill_line.decode(line)
        except httpx.TransportError as exc:
            raise unreachable(exc) from exc

    # --- heart-rate model ----------------------------------------------------------------

    async def fit_hr_model(
        self, request: HrModelFitRequest, *, use_stored_memory: bool | None = None
    ) -> HrModelFitResponse:
        """Fit the heart-rate model to one session (TrueZone format)."""
        return await self._send(calls.fit_hr_model(request, use_stored_memory))

    async def fit_activity_hr_model(
        self, activity_id: str, request: ActivityHrModelRequest | None = None
    ) -> ActivityHrModelFit:
        """Fit the heart-rate model to an activity of any provider."""
        return await self._send(
            calls.fit_activity_hr_model(activity_id, request or ActivityHrModelRequest())
        )

    async def hr_model_profile(self, sport: str, *, limit: int | None = None) -> HrModelProfile:
        """The current estimates for a sport and the fits behind them."""
        return await self._send(calls.hr_model_profile(sport, limit))

    # --- lab tests -----------------------------------------------------------------------

    async def list_tests(
        self,
        *,
        start: Day | None = None,
        end: Day | None = None,
        sport: Many | None = None,
        tags: Many | None = None,
        created_by: str | None = None,
        provider: Many | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        consistency: Consistency | None = None,
    ) -> LabTestPage:
        """One page of the lab tests merged across providers, newest first."""
        return await self._send(
            calls.list_tests(
                start=start,
                end=end,
                sport=sport,
                tags=tags,
                created_by=created_by,
                provider=provider,
                limit=limit,
                cursor=cursor,
                consistency=consistency,
            )
        )

    async def iter_tests(
        self,
        *,
        start: Day | None = None,
        end: Day | None = None,
        sport: Many | None = None,
        tags: Many | None = None,
        created_by: str | None = None,
        provider: Many | None = None,
        limit: int | None = None,
        consistency: Consistency | None = None,
        errors: Literal["raise", "ignore"] = "raise",
    ) -> AsyncIterator[LabTest]:
        """Every matching lab test once, walking `next_cursor` (see `iter_activities`)."""
        check_errors_mode(errors)
        walk = CursorWalk()
        while not walk.done:
            page = await self.list_tests(
                start=start,
                end=end,
                sport=sport,
                tags=tags,
                created_by=created_by,
                provider=provider,
                limit=limit,
                cursor=walk.cursor,
                consistency=consistency,
            )
            for item in page.items:
                yield item
            walk.advance(page.next_cursor, len(page.items), page.errors)
        walk.finish(errors)

    async def get_test(self, test_id: str) -> LabTestDetails:
        """One test, with the activities of any provider that overlap it."""
        return await self._send(calls.get_test(test_id))

    async def get_test_with_etag(self, test_id: str) -> tuple[LabTestDetails, str]:
        """One test and its ETag, to make a later `patch_test` conditional on it."""
        return await self._send(calls.get_test_with_etag(test_id))

    async def create_test(self, test: LabTestCreate) -> LabTest:
        """Record a test at the provider it names (`local` works for everyone)."""
        return await self._send(calls.create_test(test))

    async def replace_test(self, test_id: str, test: LabTestDraft) -> LabTest:
        """Replace a test: optional fields left out become null."""
        return await self._send(calls.replace_test(test_id, test))

    async def patch_test(
        self,
        test_id: str,
        patch: LabTestPatch | Mapping[str, Any],
        *,
        if_match: str | None = None,
    ) -> LabTest:
        """Update a test with a JSON merge patch; `if_match` (the ETag of
        `get_test_with_etag`) makes it conditional: PreconditionFailed when it changed since."""
        return await self._send(calls.patch_test(test_id, patch, if_match))

    async def delete_test(self, test_id: str) -> None:
        """Delete a test at its provider."""
        return await self._send(calls.delete_test(test_id))

    async def put_test_app_metadata(self, test_id: str, metadata: Mapping[str, Any]) -> None:
        """Attach your app's JSON to a test."""
        return await self._send(calls.put_test_app_metadata(test_id, metadata))

    async def delete_test_app_metadata(self, test_id: str) -> None:
        """Remove your app's JSON from a test."""
        return await self._send(calls.delete_test_app_metadata(test_id))

    # --- dailies and traces --------------------------------------------------------------

    async def list_dailies(
        self,
        *,
        start: date,
        end: date,
        measure: Many | None = None,
        provider: Many | None = None,
        interpolate: bool | None = None,
    ) -> DailyList:
        """One value per measure per day, from `start` to `end` inclusive, oldest first."""
        return await self._send(
            calls.list_dailies(
                start=start, end=end, measure=measure, provider=provider, interpolate=interpolate
            )
        )

    async def set_daily(self, daily_id: str, value: float) -> Daily:
        """Set one day's value (`<provider>:<measure>:<YYYY-MM-DD>`), in the measure's unit."""
        return await self._send(calls.set_daily(daily_id, value))

    async def delete_daily(self, daily_id: str) -> None:
        """Delete one day's value of a measure."""
        return await self._send(calls.delete_daily(daily_id))

    async def list_traces(
        self,
        *,
        start: Day | None = None,
        end: Day | None = None,
        sport: Many | None = None,
        tags: Many | None = None,
        provider: Many | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> TracePage:
        """One page of the traces merged across providers, newest first."""
        return await self._send(
            calls.list_traces(
                start=start,
                end=end,
                sport=sport,
                tags=tags,
                provider=provider,
                limit=limit,
                cursor=cursor,
            )
        )

    async def iter_traces(
        self,
        *,
        start: Day | None = None,
        end: Day | None = None,
        sport: Many | None = None,
        tags: Many | None = None,
        provider: Many | None = None,
        limit: int | None = None,
        errors: Literal["raise", "ignore"] = "raise",
    ) -> AsyncIterator[Trace]:
        """Every matching trace once, walking `next_cursor` (see `iter_activities`)."""
        check_errors_mode(errors)
        walk = CursorWalk()
        while not walk.done:
            page = await self.list_traces(
                start=start,
                end=end,
                sport=sport,
                tags=tags,
                provider=provider,
                limit=limit,
                cursor=walk.cursor,
            )
            for item in page.items:
                yield item
            walk.advance(page.next_cursor, len(page.items), page.errors)
        walk.finish(errors)

    async def get_trace(self, trace_id: str) -> Trace:
        """One trace by its federated id."""
        return await self._send(calls.get_trace(trace_id))

    async def create_trace(self, trace: TraceCreate) -> Trace:
        """Record a trace at the provider it names."""
        return await self._send(calls.create_trace(trace))

    async def replace_trace(self, trace_id: str, trace: TraceDraft) -> Trace:
        """Replace a trace: fields left out become null."""
        return await self._send(calls.replace_trace(trace_id, trace))

    async def delete_trace(self, trace_id: str) -> None:
        """Delete a trace."""
        return await self._send(calls.delete_trace(trace_id))

    # --- webhooks: provider webhooks in, and the apps' endpoints (admin key) -------------

    async def relay_provider_webhook(
        self, provider: str, body: bytes, headers: Mapping[str, str]
    ) -> HookAccepted:
        """Pass on a provider's signed webhook as it was received (signature headers too)."""
        return await self._send(calls.relay_provider_webhook(provider, body, headers))

    async def create_webhook_endpoint(
        self,
        url: str,
        *,
        event_types: Sequence[EventType] | None = None,
        description: str | None = None,
    ) -> EndpointWithSecret:
        """Register an endpoint for the gateway's events; its signing secret is shown once."""
        request = EndpointRequest(
            url=url,
            event_types=list(event_types) if event_types is not None else None,
            description=description,
        )
        return await self._send(calls.create_webhook_endpoint(request))

    async def list_webhook_endpoints(self) -> list[Endpoint]:
        """The registered endpoints."""
        return await self._send(calls.list_webhook_endpoints())

    async def get_webhook_endpoint(self, endpoint_id: str) -> Endpoint:
        """One endpoint."""
        return await self._send(calls.get_webhook_endpoint(endpoint_id))

    async def delete_webhook_endpoint(self, endpoint_id: str) -> None:
        """Remove an endpoint and its delivery log."""
        return await self._send(calls.delete_webhook_endpoint(endpoint_id))

    async def rotate_webhook_secret(self, endpoint_id: str) -> EndpointWithSecret:
        """A new signing secret; the old one signs too for 24 hours."""
        return await self._send(calls.rotate_webhook_secret(endpoint_id))

    async def enable_webhook_endpoint(self, endpoint_id: str) -> Endpoint:
        """Enable an endpoint again after it was disabled for failing."""
        return await self._send(calls.enable_webhook_endpoint(endpoint_id))

    async def send_test_webhook(self, endpoint_id: str) -> Delivery:
        """Send a webhook.test event to an endpoint."""
        return await self._send(calls.send_test_webhook(endpoint_id))

    async def list_deliveries(
        self,
        endpoint_id: str,
        *,
        status: Literal["pending", "delivered", "failed"] | None = None,
        limit: int | None = None,
    ) -> list[Delivery]:
        """An endpoint's delivery log, newest first."""
        return await self._send(calls.list_deliveries(endpoint_id, status, limit))

    async def get_delivery(self, endpoint_id: str, delivery_id: str) -> Delivery:
        """One delivery, with every attempt."""
        return await self._send(calls.get_delivery(endpoint_id, delivery_id))

    async def redeliver(self, endpoint_id: str, delivery_id: str) -> Delivery:
        """Send a delivery again now, with the same webhook-id."""
        return await self._send(calls.redeliver(endpoint_id, delivery_id))
