"""The SweatStack adapter: calls SweatStack's activity API and maps it into the unified schema."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

import httpx
import msgspec
import pyarrow as pa

from training_gateway.adapters.base import (
    ActivityQuery,
    AuthKind,
    Capability,
    Credentials,
    InboundChange,
    LabTestQuery,
    LongitudinalMeanMaxQuery,
    LongitudinalMeanMaxRow,
    MeanMaxPoint,
    TraceQuery,
    UploadedFile,
)
from training_gateway.adapters.http import (
    TRANSPORT_ERRORS,
    call_provider,
    decode_provider,
    raise_for_status,
    transport_error,
)
from training_gateway.adapters.sweatstack import mapping, timeseries, webhooks, wire
from training_gateway.models.activity import Activity, ActivityStatus
from training_gateway.models.daily import Daily, DailyMeasure
from training_gateway.models.errors import (
    InvalidInput,
    NotFound,
    ProviderError,
)
from training_gateway.models.lab_test import LabTest, LabTestDraft
from training_gateway.models.timeseries import METRICS
from training_gateway.models.trace import Trace, TraceDraft

PROVIDER = mapping.PROVIDER
T = TypeVar("T")
# A SweatStack record with `unknown_fields`: an activity or a test.
OpenT = TypeVar("OpenT", bound=msgspec.Struct)
ACTIVITIES_PATH = "/api/v1/activities/"
TESTS_PATH = "/api/v1/tests/"
TRACES_PATH = "/api/v1/traces/"
DAILIES_PATH = "/api/v1/dailies/"
# The client pages traces by 100, so SweatStack serves at least that many.
TRACES_PAGE_SIZE = 100
# SweatStack serves at most 50 tests per page.
TESTS_PAGE_SIZE = 50
UPLOAD_PATH = ACTIVITIES_PATH + "upload"
BACKFILL_STATUS_PATH = ACTIVITIES_PATH + "backfill-status"
LONGITUDINAL_MEAN_MAX_PATH = ACTIVITIES_PATH + "longitudinal-mean-max"

# Path segments under /activities/ that are endpoints, not activity ids: asking for an
# activity called "latest" must not silently return the latest activity.
_RESERVED_IDS = frozenset(
    {
        "latest",
        "upload",
        "backfill-status",
        "longitudinal-data",
        "longitudinal-mean-max",
        "longitudinal-accumulated-work-duration",
    }
)


class SweatStackAdapter:
    """SweatStack (app.sweatstack.no): recorded activities, their data and mean-max curves,
    FIT uploads and the backfill progress. Activities themselves are read only."""

    name: ClassVar[str] = PROVIDER
    display_name: ClassVar[str] = "SweatStack"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.LIST_TESTS,
            Capability.GET_TEST,
            Capability.CREATE_TEST,
            Capability.UPDATE_TEST,
            Capability.DELETE_TEST,
            Capability.TEST_APP_METADATA,
            Capability.LIST_ACTIVITIES,
            Capability.GET_ACTIVITY,
            Capability.ACTIVITY_DATA,
            Capability.MEAN_MAX,
            Capability.SEGMENTATION,
            Capability.LONGITUDINAL_MEAN_MAX,
            Capability.UPLOAD,
            Capability.BACKFILL_STATUS,
            Capability.WEBHOOKS,
            Capability.ACTIVITY_APP_METADATA,
            Capability.LIST_DAILIES,
            Capability.SET_DAILY,
            Capability.DELETE_DAILY,
            Capability.LIST_TRACES,
            Capability.CREATE_TRACE,
            Capability.UPDATE_TRACE,
            Capability.DELETE_TRACE,
        }
    )
    auth_kind: ClassVar[AuthKind] = AuthKind.OAUTH2_PKCE_OIDC
    # What the gateway asks for when it connects a user (GATEWAY_SWEATSTACK_SCOPE overrides).
    oauth_scope: ClassVar[str] = (
        "openid profile email offline_access activities:read data:read data:write"
        " reproductive_health:read reproductive_health:write"
    )
    patch_preserved_extensions: ClassVar[frozenset[str]] = frozenset()
    #: The most activities asked for in one request; larger limits are paged.
    page_size: int = 100

    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, secrets: Sequence[str], *, now_s: float
    ) -> InboundChange:
        """A SweatStack webhook's change, its signature checked (see `webhooks.verify`)."""
        return webhooks.verify(headers, body, secrets, now_s=now_s)

    async def list_activities(
        self, creds: Credentials, query: ActivityQuery, *, offset: int, limit: int
    ) -> list[Activity]:
        """Up to `limit` activities from `offset`, newest first, ties by id (SweatStack's order)."""
        if limit <= 0 or (query.statuses and ActivityStatus.COMPLETED not in query.statuses):
            return []  # SweatStack only holds completed activities
        pages = self._pages(
            creds,
            ACTIVITIES_PATH,
            list_params(query),
            offset,
            limit,
            self.page_size,
            decode_summaries,
        )
        return [mapping.to_unified(item) async for item in pages]

    async def get_activity(self, creds: Credentials, native_id: str) -> Activity:
        """One activity with its summary, laps and devices; NotFound naming the id otherwise."""
        response = await call_provider(
            self.http,
            self.name,
            "GET",
            self._activity_url(native_id),
            token=creds.access_token,
            not_found=_missing(native_id),
        )
        return mapping.to_unified(decode_details(response.content))

    async def activity_data(
        self, creds: Credentials, native_id: str, metrics: Sequence[str]
    ) -> pa.Table:
        """The activity's samples in the unified schema, with the requested metrics it recorded.

        `duration` is always asked for, as the unified schema always carries it. NotFound when
        the activity does not exist or has no samples.
        """
        return await self._data(creds, native_id, metrics, None)

    async def segmented_data(
        self, creds: Credentials, native_id: str, metrics: Sequence[str], on: str
    ) -> pa.Table:
        """The activity's data segmented by SweatStack's AISC on `on` (`segmentation_on`): one
        row per segment, `duration` its length."""
        if on not in timeseries.MEAN_MAX_METRICS:
            raise InvalidInput(
                "segmentation_on", f"sweatstack segments on power or speed, not {on!r}"
            )
        return await self._data(creds, native_id, metrics, on)

    async def _data(
        self, creds: Credentials, native_id: str, metrics: Sequence[str], on: str | None
    ) -> pa.Table:
        wanted = _unified_metrics(metrics)
        params = [("metrics", name) for name in ("duration", *wanted)]
        if on is not None:
            params.append(("segmentation_on", on))
        response = await call_provider(
            self.http,
            self.name,
            "GET",
            self._activity_url(native_id) + "/data",
            token=creds.access_token,
            params=params,
            not_found=_missing(native_id),
        )
        what = f"{'segmented ' if on else ''}data of activity {native_id!r}"
        table = timeseries.read_parquet(response.content, what)
        if table.num_rows == 0:
            raise NotFound(f"sweatstack activity {native_id!r} has no streams (no samples)")
        return timeseries.data_to_unified(table, wanted, what=what)

    async def mean_max(
        self, creds: Credentials, native_id: str, metric: str, durations_s: Sequence[int]
    ) -> list[MeanMaxPoint]:
        """SweatStack's mean-max curve of power or speed at `durations_s` (its default grid when
        empty); durations longer than the activity are left out, as SweatStack leaves them out."""
        return await self._mean_max(creds, native_id, metric, durations_s, segmentation=False)

    async def segmented_mean_max(
        self, creds: Credentials, native_id: str, metric: str, durations_s: Sequence[int]
    ) -> list[MeanMaxPoint]:
        """SweatStack's mean-max curve with `segmentation=true`: fewer points, for display."""
        return await self._mean_max(creds, native_id, metric, durations_s, segmentation=True)

    async def _mean_max(
        self,
        creds: Credentials,
        native_id: str,
        metric: str,
        durations_s: Sequence[int],
        *,
        segmentation: bool,
    ) -> list[MeanMaxPoint]:
        if metric not in timeseries.MEAN_MAX_METRICS:
            raise InvalidInput(
                "metric",
                f"sweatstack computes mean-max curves of power or speed only, not {metric!r}",
            )
        durations = [int(duration) for duration in durations_s]
        if any(duration < 1 for duration in durations):
            raise InvalidInput("durations", "every mean-max duration must be at least 1 s")
        params = [("metric", metric)]
        if durations:
            params.append(("durations", ",".join(str(duration) for duration in durations)))
        if segmentation:
            params.append(("segmentation", "true"))
        response = await call_provider(
            self.http,
            self.name,
            "GET",
            self._activity_url(native_id) + "/mean-max",
            token=creds.access_token,
            params=params,
            not_found=_missing(native_id),
        )
        what = f"the {metric} mean-max of activity {native_id!r}"
        table = timeseries.read_parquet(response.content, what)
        return timeseries.mean_max_points(table, metric, what=what)

    async def longitudinal_mean_max(
        self, creds: Credentials, query: LongitudinalMeanMaxQuery
    ) -> list[LongitudinalMeanMaxRow]:
        """SweatStack's own curve across the user's matching activities (power or speed), by
        duration or by intensity as `query.by` says, each row naming the activity."""
        if query.metric not in timeseries.MEAN_MAX_METRICS:
            raise InvalidInput(
                "metric",
                f"sweatstack computes mean-max curves of power or speed only, not {query.metric!r}",
            )
        params = list_params(
            ActivityQuery(start_date=query.start_date, end_date=query.end_date, sports=query.sports)
        )
        params += [("metric", query.metric), ("by", query.by)]
        if query.durations_s is not None:
            params.append(
                (
                    "durations",
                    query.durations_s
                    if query.durations_s == "all"
                    else ",".join(str(int(d)) for d in query.durations_s),
                )
            )
        params.extend(("after", repr(float(after))) for after in query.afters)
        response = await call_provider(
            self.http,
            self.name,
            "GET",
            self.base_url + LONGITUDINAL_MEAN_MAX_PATH,
            token=creds.access_token,
            params=params,
        )
        what = f"the longitudinal {query.metric} mean-max"
        table = timeseries.read_parquet(response.content, what)
        return timeseries.longitudinal_rows(table, query.metric, what=what)

    async def upload_files(self, creds: Credentials, files: Sequence[UploadedFile]) -> list[str]:
        """Upload activity files (SweatStack takes FIT, up to 10 at once) in one multipart
        request; the ids of the sources SweatStack processes them as, in the files' order."""
        if not files:
            raise InvalidInput("files", "there are no files to upload")
        parts = [("files", (file.filename, file.content, file.content_type)) for file in files]
        response = await call_provider(
            self.http,
            self.name,
            "POST",
            self.base_url + UPLOAD_PATH,
            token=creds.access_token,
            files=parts,
        )
        if response.status_code != httpx.codes.ACCEPTED:
            raise ProviderError(
                PROVIDER,
                f"{PROVIDER} answered {response.status_code} to an upload instead of 202",
                upstream_status=response.status_code,
            )
        sources = decode_provider(PROVIDER, response.content, wire.UploadResponse).sources
        if len(sources) != len(files):
            raise ProviderError(
                PROVIDER, f"{PROVIDER} answered {len(sources)} sources for {len(files)} files"
            )
        return [source.id for source in sources]

    async def backfill_status(self, creds: Credentials) -> AsyncIterator[datetime | None]:
        """`backfill_loaded_until` as SweatStack streams it (every few seconds, for up to a
        minute): how far back the user's history is loaded, None before anything is.

        The stream has no read timeout, since the wait between lines is SweatStack's to choose.
        """
        limits = self.http.timeout
        timeout = httpx.Timeout(
            connect=limits.connect, read=None, write=limits.write, pool=limits.pool
        )
        headers = {**_headers(creds), "Accept": "application/x-ndjson"}
        try:
            async with self.http.stream(
                "GET", self.base_url + BACKFILL_STATUS_PATH, headers=headers, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise_for_status(PROVIDER, response, "GET")
                async for line in response.aiter_lines():
                    if line.strip():
                        yield decode_backfill_line(line)
        except TRANSPORT_ERRORS as exc:
            raise transport_error(PROVIDER, exc) from None

    def _activity_url(self, native_id: str) -> str:
        """The URL of one activity; NotFound for an id that names an endpoint instead."""
        if not native_id or native_id in _RESERVED_IDS:
            raise NotFound(_missing(native_id))
        return f"{self.base_url}{ACTIVITIES_PATH}{quote(native_id, safe='')}"

    # lab tests

    async def list_tests(
        self, creds: Credentials, query: LabTestQuery, *, offset: int, limit: int
    ) -> list[LabTest]:
        """Up to `limit` tests from `offset`, newest first, in pages of at most 50."""
        pages = self._pages(
            creds,
            TESTS_PATH,
            list_params(query),
            offset,
            limit,
            TESTS_PAGE_SIZE,
            lambda payload: decode_list(payload, wire.LabTestSummary),
        )
        return [mapping.lab_test_to_unified(item) async for item in pages]

    async def _pages(
        self,
        creds: Credentials,
        path: str,
        filters: list[tuple[str, str]],
        offset: int,
        limit: int,
        page_size: int,
        decode: Callable[[bytes], Sequence[T]],
    ) -> AsyncIterator[T]:
        """Up to `limit` items of a SweatStack list from `offset`, fetched `page_size` at a
        time with `limit`/`offset`, until a short page says the list has ended."""
        fetched = 0
        while fetched < limit:
            page_limit = min(page_size, limit - fetched)
            params = [*filters, ("limit", str(page_limit)), ("offset", str(offset + fetched))]
            response = await call_provider(
                self.http,
                self.name,
                "GET",
                self.base_url + path,
                token=creds.access_token,
                params=params,
            )
            page = decode(response.content)
            for item in page[: limit - fetched]:
                yield item
            fetched += len(page)
            if len(page) < page_limit:
                break

    async def get_test(self, creds: Credentials, native_id: str) -> LabTest:
        response = await call_provider(
            self.http,
            self.name,
            "GET",
            self._test_url(native_id),
            token=creds.access_token,
            not_found=_missing_test(native_id),
        )
        return mapping.lab_test_to_unified(decode_one(response.content, wire.LabTestDetails))

    async def create_test(self, creds: Credentials, draft: LabTestDraft) -> LabTest:
        response = await call_provider(
            self.http,
            self.name,
            "POST",
            self.base_url + TESTS_PATH,
            token=creds.access_token,
            json=mapping.lab_test_body(draft),
        )
        return mapping.lab_test_to_unified(decode_one(response.content, wire.LabTestSummary))

    async def replace_test(
        self, creds: Credentials, native_id: str, draft: LabTestDraft
    ) -> LabTest:
        """PUT is a full replace: every key is sent, null where the draft has nothing. The
        answer is read back, as the SDK ignores PUT's body."""
        await call_provider(
            self.http,
            self.name,
            "PUT",
            self._test_url(native_id),
            token=creds.access_token,
            json=mapping.lab_test_body(draft),
            not_found=_missing_test(native_id),
        )
        return await self.get_test(creds, native_id)

    async def delete_test(self, creds: Credentials, native_id: str) -> None:
        await call_provider(
            self.http,
            self.name,
            "DELETE",
            self._test_url(native_id),
            token=creds.access_token,
            not_found=_missing_test(native_id),
        )

    async def put_test_app_metadata(
        self, creds: Credentials, native_id: str, metadata: dict[str, Any]
    ) -> None:
        await self._app_metadata(
            "PUT", self._test_url(native_id), creds, _missing_test(native_id), metadata
        )

    async def delete_test_app_metadata(self, creds: Credentials, native_id: str) -> None:
        await self._app_metadata(
            "DELETE", self._test_url(native_id), creds, _missing_test(native_id)
        )

    def _test_url(self, native_id: str) -> str:
        return self.base_url + TESTS_PATH + quote(native_id, safe="")

    # app metadata on activities

    async def put_activity_app_metadata(
        self, creds: Credentials, native_id: str, metadata: dict[str, Any]
    ) -> None:
        """This app's JSON on an activity (SweatStack keeps one document per app)."""
        await self._app_metadata(
            "PUT", self._activity_url(native_id), creds, _missing(native_id), metadata
        )

    async def delete_activity_app_metadata(self, creds: Credentials, native_id: str) -> None:
        await self._app_metadata(
            "DELETE", self._activity_url(native_id), creds, _missing(native_id)
        )

    async def _app_metadata(
        self,
        method: str,
        record_url: str,
        creds: Credentials,
        not_found: str,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Set (PUT, with `metadata`) or remove (DELETE) this app's document on a record."""
        await call_provider(
            self.http,
            self.name,
            method,
            record_url + "/app-metadata",
            token=creds.access_token,
            json=metadata,
            not_found=not_found,
        )

    # dailies

    async def list_dailies(
        self,
        creds: Credentials,
        measure: DailyMeasure,
        start: date,
        end: date,
        *,
        interpolate: bool,
    ) -> list[Daily]:
        """The days of the range with a value (SweatStack answers every day; a missing one
        has none and is left out)."""
        params = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "interpolate": "true" if interpolate else "false",
        }
        response = await call_provider(
            self.http,
            self.name,
            "GET",
            self._daily_url(measure),
            token=creds.access_token,
            params=params,
        )
        days = decode_provider(PROVIDER, response.content, list[wire.DailyResponse])
        return [
            mapping.daily_to_unified(measure, day)
            for day in days
            if day.value is not None and day.status != "missing"
        ]

    async def set_daily(
        self, creds: Credentials, measure: DailyMeasure, day: date, value: float
    ) -> Daily:
        response = await call_provider(
            self.http,
            self.name,
            "POST",
            self._daily_url(measure),
            token=creds.access_token,
            json=wire.DailyWrite(date=day, value=value),
        )
        stored = decode_provider(PROVIDER, response.content, wire.DailyResponse)
        return mapping.daily_to_unified(measure, stored)

    async def delete_daily(self, creds: Credentials, measure: DailyMeasure, day: date) -> None:
        await call_provider(
            self.http,
            self.name,
            "DELETE",
            self._daily_url(measure),
            token=creds.access_token,
            params={"date": day.isoformat()},
            not_found=f"sweatstack has no {measure} on {day.isoformat()}",
        )

    def _daily_url(self, measure: DailyMeasure) -> str:
        return self.base_url + DAILIES_PATH + quote(str(measure), safe="")

    # traces

    async def list_traces(
        self, creds: Credentials, query: TraceQuery, *, offset: int, limit: int
    ) -> list[Trace]:
        """Up to `limit` traces from `offset`, newest first, in pages of at most 100."""
        pages = self._pages(
            creds,
            TRACES_PATH,
            list_params(query),
            offset,
            limit,
            TRACES_PAGE_SIZE,
            lambda payload: decode_provider(PROVIDER, payload, list[wire.TraceDetails]),
        )
        return [mapping.trace_to_unified(item) async for item in pages]

    async def create_trace(self, creds: Credentials, draft: TraceDraft) -> Trace:
        response = await call_provider(
            self.http,
            self.name,
            "POST",
            self.base_url + TRACES_PATH,
            token=creds.access_token,
            json=mapping.trace_body(draft),
            not_found=f"sweatstack has no test {draft.test_id!r} to link the trace to",
        )
        return mapping.trace_to_unified(
            decode_provider(PROVIDER, response.content, wire.TraceDetails)
        )

    async def replace_trace(self, creds: Credentials, native_id: str, draft: TraceDraft) -> Trace:
        """PUT is a full replace; the SDK ignores its answer, so the trace is read back from
        the list of its day (SweatStack has no endpoint for one trace)."""
        await call_provider(
            self.http,
            self.name,
            "PUT",
            self._trace_url(native_id),
            token=creds.access_token,
            json=mapping.trace_body(draft),
            not_found=_missing_trace(native_id),
        )
        day = draft.timestamp.replace(tzinfo=None).date()
        around = TraceQuery(start_date=day - timedelta(days=1), end_date=day + timedelta(days=1))
        wanted = mapping.federated_id(PROVIDER, native_id)
        offset = 0
        while True:
            page = await self.list_traces(creds, around, offset=offset, limit=TRACES_PAGE_SIZE)
            for trace in page:
                if trace.id == wanted:
                    return trace
            if len(page) < TRACES_PAGE_SIZE:
                raise ProviderError(
                    PROVIDER, f"{PROVIDER} did not list trace {native_id!r} after replacing it"
                )
            offset += len(page)

    async def delete_trace(self, creds: Credentials, native_id: str) -> None:
        await call_provider(
            self.http,
            self.name,
            "DELETE",
            self._trace_url(native_id),
            token=creds.access_token,
            not_found=_missing_trace(native_id),
        )

    def _trace_url(self, native_id: str) -> str:
        return self.base_url + TRACES_PATH + quote(native_id, safe="")


def _missing_trace(native_id: str) -> str:
    return f"sweatstack trace {native_id!r} not found"


def _missing_test(native_id: str) -> str:
    return f"sweatstack test {native_id!r} not found"


def _missing(native_id: str) -> str:
    return f"sweatstack activity {native_id!r} not found"


def _unified_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    """The requested metrics in the unified schema's order (`schema_for`'s); one it does not
    know is refused."""
    unknown = [name for name in metrics if name not in METRICS]
    if unknown:
        raise InvalidInput("metrics", f"unknown metric {unknown[0]!r}; known: {', '.join(METRICS)}")
    return tuple(name for name in METRICS if name in metrics)


def _headers(creds: Credentials) -> dict[str, str]:
    return {"Authorization": f"Bearer {creds.access_token}", "Accept": "application/json"}


def decode_backfill_line(line: str | bytes) -> datetime | None:
    """One line of the backfill stream: its `backfill_loaded_until`, or ProviderError naming
    sweatstack for an `{"error": ...}` line or a line that does not decode."""
    payload = line.encode() if isinstance(line, str) else line
    fields: dict[str, Any] = decode_provider(PROVIDER, payload, dict[str, msgspec.Raw])
    if "error" in fields:
        failure = decode_provider(PROVIDER, payload, wire.BackfillError)
        raise ProviderError(
            PROVIDER, f"{PROVIDER} could not report the backfill status: {failure.error}"
        )
    return decode_provider(PROVIDER, payload, wire.BackfillStatus).backfill_loaded_until


def list_params(query: ActivityQuery | LabTestQuery | TraceQuery) -> list[tuple[str, str]]:
    """The list filters SweatStack evaluates itself: dates, repeated `sport` and `tags`, and for
    tests `created_by`."""
    params: list[tuple[str, str]] = []
    if query.start_date is not None:
        params.append(("start", query.start_date.isoformat()))
    if query.end_date is not None:
        params.append(("end", query.end_date.isoformat()))
    params.extend(("sport", sport) for sport in query.sports)
    params.extend(("tags", tag) for tag in query.tags)
    if isinstance(query, LabTestQuery) and query.created_by is not None:
        params.append(("created_by", query.created_by))
    return params


def decode_list(payload: bytes, shape: type[OpenT]) -> list[OpenT]:
    """A SweatStack list of activities or tests, strictly typed, each item keeping its unknown
    top-level fields. Anything that does not decode raises ProviderError naming sweatstack."""
    items = decode_provider(PROVIDER, payload, list[dict[str, msgspec.Raw]])
    split = [wire.split_fields(item, shape) for item in items]
    declared = msgspec.json.encode([known for known, _ in split])
    typed = decode_provider(PROVIDER, declared, list[shape])  # type: ignore[valid-type]
    return [
        msgspec.structs.replace(item, unknown_fields=unknown)
        for item, (_, unknown) in zip(typed, split, strict=True)
    ]


def decode_one(payload: bytes, shape: type[OpenT]) -> OpenT:
    """One activity or test, strictly typed, keeping its unknown fields (or ProviderError)."""
    obj = decode_provider(PROVIDER, payload, dict[str, msgspec.Raw])
    known, unknown = wire.split_fields(obj, shape)
    typed = decode_provider(PROVIDER, msgspec.json.encode(known), shape)
    return msgspec.structs.replace(typed, unknown_fields=unknown)


def decode_summaries(payload: bytes) -> list[wire.ActivitySummary]:
    """SweatStack's activity list (see `decode_list`)."""
    return decode_list(payload, wire.ActivitySummary)


def decode_details(payload: bytes) -> wire.ActivityDetails:
    """One activity's details (see `decode_one`)."""
    return decode_one(payload, wire.ActivityDetails)
