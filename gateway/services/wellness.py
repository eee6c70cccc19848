"""Dailies across providers, and app metadata on activities wherever they are held.

Dailies are listed for a bounded range of days, so they are merged whole rather than paged:
every provider that keeps dailies is asked for every requested measure at once, and a
provider that fails is named in `errors` while the others' days still come back. Each day's
value keeps its provider (its id says which), so two providers' values of one day are both
shown, never blended.

App metadata on activities lives at the provider where it can (SweatStack keeps each app's
document itself); for the others the gateway keeps it (`LocalAppMetadata`) and shows it in the
activity's `extensions.app_metadata`, as SweatStack's mapping does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date
from typing import Any

import msgspec

from training_gateway.adapters.base import Operations, capability, has_capability
from training_gateway.gateway.errors import NotConnected
from training_gateway.gateway.services.federation import ProviderFailure, failure_of
from training_gateway.gateway.services.sources import AnySource, CallerSources, Source
from training_gateway.gateway.storage.local import LocalAppMetadata
from training_gateway.gateway.wire import DailyList as DailyList
from training_gateway.models.activity import Activity
from training_gateway.models.daily import Daily, DailyMeasure, check_value, split_daily_id
from training_gateway.models.decoding import check_document
from training_gateway.models.errors import InvalidBody, InvalidInput, InvalidParameter, NotFound

#: The longest range one list of dailies may span.
MAX_DAILY_RANGE_DAYS = 366
#: The largest app-metadata document, as compact JSON (SweatStack's own limit).
MAX_APP_METADATA_BYTES = 1024


async def list_dailies(
    sources: list[AnySource],
    measures: Sequence[DailyMeasure],
    start: date,
    end: date,
    *,
    interpolate: bool,
) -> DailyList:
    """Every provider's days with a value, merged."""
    if end < start:
        raise InvalidParameter("end", "end lies before start")
    if (end - start).days >= MAX_DAILY_RANGE_DAYS:
        raise InvalidParameter(
            "end", f"a list of dailies spans at most {MAX_DAILY_RANGE_DAYS} days"
        )
    offering = [s for s in sources if has_capability(s.adapter, Operations.LIST_DAILIES)]
    failures: list[ProviderFailure] = []
    asked: list[Source] = []
    for source in offering:
        if isinstance(source, Source):
            asked.append(source)
        else:
            failures.append(failure_of(source.name, source.error))

    async def of(source: Source) -> list[Daily]:
        dailies = capability(source.adapter, Operations.LIST_DAILIES)
        found = await asyncio.gather(
            *(
                dailies.list_dailies(source.credentials, m, start, end, interpolate=interpolate)
                for m in measures
            )
        )
        return [daily for days in found for daily in days]

    answers = await asyncio.gather(*(of(source) for source in asked), return_exceptions=True)
    items: list[Daily] = []
    for source, answer in zip(asked, answers, strict=True):
        if isinstance(answer, BaseException):
            if not isinstance(answer, Exception):
                raise answer
            failures.append(failure_of(source.name, answer))
        else:
            items.extend(d for d in answer if start <= d.date <= end and d.measure in measures)
    order = {measure: index for index, measure in enumerate(DailyMeasure)}
    items.sort(key=lambda d: (d.date, order[d.measure], d.provider))
    return DailyList(items=items, errors=failures)


async def set_daily(sources: CallerSources, daily_id: str, value: float) -> Daily:
    """Set the value a daily id names (its provider, measure and day)."""
    provider, measure, day = _parsed_id(daily_id)
    checked = check_value(measure, value)
    source = await _source_of(sources, provider, daily_id)
    dailies = capability(source.adapter, Operations.SET_DAILY)
    return await dailies.set_daily(source.credentials, measure, day, checked)


async def delete_daily(sources: CallerSources, daily_id: str) -> None:
    provider, measure, day = _parsed_id(daily_id)
    source = await _source_of(sources, provider, daily_id)
    dailies = capability(source.adapter, Operations.DELETE_DAILY)
    await dailies.delete_daily(source.credentials, measure, day)


def _parsed_id(daily_id: str) -> tuple[str, DailyMeasure, date]:
    """A daily id's parts; an id that is not one names no daily (404), as for other records."""
    try:
        return split_daily_id(daily_id)
    except InvalidInput as exc:
        raise NotFound(f"no daily {daily_id!r}: {exc.detail}") from None


async def _source_of(sources: CallerSources, provider: str, daily_id: str) -> Source:
    if provider not in sources.gateway.adapters:
        raise NotFound(f"no daily {daily_id!r}: unknown provider prefix {provider!r}")
    try:
        return await sources.one(provider)
    except NotConnected:
        raise NotFound(f"no daily {daily_id!r}: you have not connected {provider!r}") from None


# --- app metadata on activities ---------------------------------------------------------


def checked_app_metadata(document: dict[str, Any]) -> dict[str, Any]:
    """An app's document within the limits every provider can hold; InvalidBody otherwise."""
    check_document(document)
    if len(msgspec.json.encode(document)) > MAX_APP_METADATA_BYTES:
        raise InvalidBody("body", f"app metadata is at most {MAX_APP_METADATA_BYTES} bytes of JSON")
    return document


async def set_activity_app_metadata(
    sources: CallerSources, activity_id: str, document: dict[str, Any] | None
) -> Activity:
    """Set (None: remove) the caller's app metadata on an activity, at its provider when it
    keeps app metadata, else in the gateway; the activity as it now reads."""
    source, native_id = await sources.of_record(activity_id)
    reader = capability(source.adapter, Operations.GET_ACTIVITY)
    if has_capability(source.adapter, Operations.ACTIVITY_APP_METADATA):
        writer = capability(source.adapter, Operations.ACTIVITY_APP_METADATA)
        if document is None:
            await writer.delete_activity_app_metadata(source.credentials, native_id)
        else:
            await writer.put_activity_app_metadata(source.credentials, native_id, document)
        return await reader.get_activity(source.credentials, native_id)
    activity = await reader.get_activity(source.credentials, native_id)  # it must exist
    kept = LocalAppMetadata(sources.gateway.store)
    if document is None:
        await kept.remove(sources.user.id, activity_id)
    else:
        await kept.put(sources.user.id, activity_id, document)
    return with_app_metadata(activity, document)


def with_app_metadata(activity: Activity, document: dict[str, Any] | None) -> Activity:
    """The activity showing `document` as its `extensions.app_metadata` (none: absent)."""
    extensions = {k: v for k, v in activity.extensions.items() if k != "app_metadata"}
    if document is not None:
        extensions["app_metadata"] = document
    return msgspec.structs.replace(activity, extensions=extensions)


async def shown_with_app_metadata(
    sources: CallerSources, activities: list[Activity]
) -> list[Activity]:
    """Activities of providers without app metadata of their own, with what the gateway
    keeps for them (the others already carry theirs)."""
    adapters = sources.gateway.adapters
    kept_for = [
        a.id
        for a in activities
        if a.provider in adapters
        and not has_capability(adapters[a.provider], Operations.ACTIVITY_APP_METADATA)
    ]
    if not kept_for:
        return activities
    kept = await LocalAppMetadata(sources.gateway.store).of(sources.user.id, kept_for)
    return [with_app_metadata(a, kept[a.id]) if a.id in kept else a for a in activities]
