"""Unified dailies (one value per measure per day) and traces (point measurements) over every
provider that keeps them, and the built-in `local` provider every user has."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec
from litestar import Controller, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import Parameter

from training_gateway.adapters.base import Operations, capability
from training_gateway.gateway.dependencies import PageRequest, Span
from training_gateway.gateway.params import split_repeated
from training_gateway.gateway.services import wellness
from training_gateway.gateway.services.federation import TraceFilter, TracePage, list_traces
from training_gateway.gateway.services.sources import CallerSources
from training_gateway.models.daily import Daily, DailyMeasure, DailyValue, parse_measure
from training_gateway.models.errors import InvalidInput, InvalidParameter
from training_gateway.models.sport import canonical_sport
from training_gateway.models.trace import Trace, TraceCreate, TraceDraft

_MEASURES = ", ".join(m.value for m in DailyMeasure)


class DailyController(Controller):
    path = "/dailies"
    tags = ["dailies"]

    @get(
        "/",
        summary="List dailies (body mass, resting HR, HRV, sleep, ...) across providers",
        description=(
            "Every day from `start` to `end` (inclusive, at most 366 days) that has a value, "
            "for each `measure` asked (all when none is), at every provider that keeps dailies "
            "and `local`; oldest first, then by measure and provider. Each item's id "
            "(`<provider>:<measure>:<date>`) says whose value it is. `interpolate=true` adds "
            "the estimates of providers that make them (`status: estimated`). A provider that "
            "fails is named in `errors`."
        ),
    )
    async def list_dailies(
        self,
        *,
        sources: NamedDependency[CallerSources],
        providers: NamedDependency[tuple[str, ...]],
        start: Annotated[date, Parameter(description="First day (YYYY-MM-DD), inclusive")],
        end: Annotated[date, Parameter(description="Last day (YYYY-MM-DD), inclusive")],
        measure: Annotated[
            list[str] | None, Parameter(description=f"Repeatable; one of {_MEASURES}")
        ] = None,
        interpolate: Annotated[
            bool, Parameter(description="Add providers' estimates for days without a value")
        ] = False,
    ) -> wellness.DailyList:
        measures = [_measure(raw) for raw in dict.fromkeys(split_repeated(measure))] or list(
            DailyMeasure
        )
        return await wellness.list_dailies(
            await sources.all(providers), measures, start, end, interpolate=interpolate
        )

    @put(
        "/{daily_id:str}",
        summary="Set one day's value of a measure at a provider (create or replace)",
        description=(
            "`daily_id` is `<provider>:<measure>:<YYYY-MM-DD>`, e.g. `local:body_mass:"
            "2026-05-01`. The value is in the measure's unit (kg, %, bpm, ms, s, m, cycle day) "
            "and within its plausible range."
        ),
    )
    async def set_daily(
        self, sources: NamedDependency[CallerSources], daily_id: str, data: DailyValue
    ) -> Daily:
        return await wellness.set_daily(sources, daily_id, data.value)

    @delete("/{daily_id:str}", summary="Delete one day's value of a measure", status_code=204)
    async def delete_daily(self, sources: NamedDependency[CallerSources], daily_id: str) -> None:
        await wellness.delete_daily(sources, daily_id)


class TraceController(Controller):
    path = "/traces"
    tags = ["traces"]

    @get(
        "/",
        summary="List traces (lactate, RPE, ... point measurements) across providers",
        description=(
            "Merged across the caller's providers with traces (and `local`), newest first, ties "
            "broken by id. Walk `next_cursor` to read every matching trace once. A provider "
            "that fails is named in `errors`."
        ),
    )
    async def list_traces(
        self,
        *,
        sources: NamedDependency[CallerSources],
        span: NamedDependency[Span],
        sports: NamedDependency[tuple[str, ...]],
        wanted_tags: NamedDependency[tuple[str, ...]],
        providers: NamedDependency[tuple[str, ...]],
        page: NamedDependency[PageRequest],
    ) -> TracePage:
        filter_ = TraceFilter(
            start=span.start, end=span.end, sports=sports, tags=wanted_tags, providers=providers
        )
        return await list_traces(
            await sources.all(providers), filter_, limit=page.limit, cursor=page.cursor
        )

    @get("/{trace_id:str}", summary="Get one trace by its federated id")
    async def get_trace(self, sources: NamedDependency[CallerSources], trace_id: str) -> Trace:
        source, native_id = await sources.of_record(trace_id, kind="trace")
        traces = capability(source.adapter, Operations.GET_TRACE)
        return await traces.get_trace(source.credentials, native_id)

    @post(
        "/",
        summary="Record a trace at the provider the body names",
        status_code=201,
        response_headers=None,
    )
    async def create_trace(
        self, sources: NamedDependency[CallerSources], data: TraceCreate
    ) -> Response[Trace]:
        source = await sources.named_in_body(data.provider)
        traces = capability(source.adapter, Operations.CREATE_TRACE)
        draft = TraceDraft(**{f: getattr(data, f) for f in TraceDraft.__struct_fields__})
        created = await traces.create_trace(source.credentials, _canonical(draft))
        return Response(created, status_code=201, headers={"Location": f"/v1/traces/{created.id}"})

    @put("/{trace_id:str}", summary="Replace a trace (omitted fields become null)")
    async def replace_trace(
        self, sources: NamedDependency[CallerSources], trace_id: str, data: TraceDraft
    ) -> Trace:
        source, native_id = await sources.of_record(trace_id, kind="trace")
        traces = capability(source.adapter, Operations.UPDATE_TRACE)
        return await traces.replace_trace(source.credentials, native_id, _canonical(data))

    @delete("/{trace_id:str}", summary="Delete a trace", status_code=204)
    async def delete_trace(self, sources: NamedDependency[CallerSources], trace_id: str) -> None:
        source, native_id = await sources.of_record(trace_id, kind="trace")
        traces = capability(source.adapter, Operations.DELETE_TRACE)
        await traces.delete_trace(source.credentials, native_id)


def _measure(raw: str) -> DailyMeasure:
    try:
        return parse_measure(raw)
    except InvalidInput as exc:
        raise InvalidParameter("measure", exc.detail) from None


def _canonical(draft: TraceDraft) -> TraceDraft:
    """The draft with its sport (when it has one) in canonical form; unknown: refused."""
    if draft.sport is None:
        return draft
    return msgspec.structs.replace(draft, sport=canonical_sport(draft.sport))
