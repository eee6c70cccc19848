"""Listing records (activities, lab tests) across providers: exact filters, a k-way merge
newest first, and an opaque cursor that walks every matching record exactly once.

Each provider is read as a stream in its own stable order (newest first), by offset. The
cursor records, per provider, the offset of the first raw item not yet handed out, so a
page boundary can split equal start times without losing or repeating a record.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import heapq
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

import msgspec
from open_sport_taxonomy import Sport

from training_gateway.adapters.base import (
    ActivityQuery,
    Adapter,
    LabTestQuery,
    Operations,
    capability,
    has_capability,
)
from training_gateway.gateway.errors import status_for
from training_gateway.gateway.services.sources import AnySource, Source, UnusableSource
from training_gateway.models.activity import MAX_YEAR, MIN_YEAR, Activity, ActivityStatus
from training_gateway.models.errors import GatewayError, InvalidParameter, ProviderThrottled
from training_gateway.models.lab_test import LabTest
from training_gateway.models.sport import parse_sport_filter, sport_matches

_log = logging.getLogger("gateway.federation")
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
_CURSOR_VERSION = 1
# Pages asked of a provider: small enough to stream, large enough to keep round trips few.
_MIN_CHUNK = 50
_EXHAUSTED = -1
# No provider holds more records than this for one user; a cursor past it was not ours.
_MAX_OFFSET = 2**31 - 1

T = TypeVar("T", Activity, LabTest)


class ProviderFailure(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A provider that could not contribute to a merged answer, and why; a throttled one
    (status 429) says in `retry_after` how many seconds to wait, when it is known."""

    provider: str
    status: int
    detail: str
    retry_after: float | None = None


GATEWAY = "gateway"  # what `errors` names when the gateway itself failed


def failure_of(provider: str, exc: Exception, *, about: str | None = None) -> ProviderFailure:
    """What a failure at `provider` (while working on `about`, e.g. an activity id)
    contributes to a merged answer's `errors`. An unexpected exception is a bug, of an adapter
    (502) or of the gateway itself (`provider` GATEWAY, 500): it is logged by type only and
    reported without its text."""
    prefix = f"{about}: " if about else ""
    if isinstance(exc, GatewayError):
        return ProviderFailure(
            provider=provider,
            status=status_for(exc),
            detail=prefix + exc.detail,
            retry_after=exc.retry_after_s if isinstance(exc, ProviderThrottled) else None,
        )
    _log.error("%s failed unexpectedly: %s", about or provider, type(exc).__name__)
    culprit = "the gateway" if provider == GATEWAY else f"the {provider} adapter"
    return ProviderFailure(
        provider=provider,
        status=500 if provider == GATEWAY else 502,
        detail=f"{prefix}{culprit} failed unexpectedly ({type(exc).__name__})",
    )


class Page(msgspec.Struct, Generic[T], kw_only=True):
    """One page of a merged list."""

    items: list[T]
    next_cursor: str | None
    errors: list[ProviderFailure]


class ActivityPage(Page[Activity], kw_only=True):
    """One page of the merged activity list."""

    items: list[Activity]  # concrete, for the OpenAPI document


class LabTestPage(Page[LabTest], kw_only=True):
    """One page of the merged lab-test list."""

    items: list[LabTest]  # concrete, for the OpenAPI document


# The name the published API document gives this page (its component and title).
LabTestPage.__name__ = LabTestPage.__qualname__ = "TestPage"


class RecordFilter(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """The caller's filters, applied exactly by the gateway whatever a provider can do.

    A date bound compares with the record's local calendar date (its UTC date when the
    provider gives no local time); a datetime bound compares with the absolute start.
    Both bounds are inclusive; tags must all be present.
    """

    # Tells the cursors of different record kinds apart.
    kind: ClassVar[str]

    start: date | datetime | None = None
    end: date | datetime | None = None
    sports: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()

    def matches(self, record: T) -> bool:
        if self.tags and not set(self.tags).issubset(record.tags):
            return False
        if self.sports and not sport_matches(record.sport, _parsed_sports(self.sports)):
            return False
        return _within(record, self.start, lower=True) and _within(record, self.end, lower=False)

    def pushdown_dates(self) -> tuple[date | None, date | None]:
        """Provider-side date bounds: a superset, widened a day for time zones."""
        return (
            _shifted(_as_date(self.start), -1) if self.start is not None else None,
            _shifted(_as_date(self.end), 1) if self.end is not None else None,
        )

    def fingerprint(self) -> str:
        digest = hashlib.sha256(msgspec.json.encode(self)).hexdigest()
        return (self.kind + digest)[:16]

    def offered_by(self, adapter: Adapter) -> bool:
        """Whether the adapter lists this kind of record."""
        raise NotImplementedError

    async def fetch(self, source: Source, offset: int, limit: int) -> list[T]:
        """Up to `limit` raw records of `source` from `offset` (with the pushed-down filters)."""
        raise NotImplementedError


class ActivityFilter(RecordFilter[Activity], frozen=True, kw_only=True):
    kind: ClassVar[str] = ""

    statuses: tuple[ActivityStatus, ...] = ()

    def matches(self, record: Activity) -> bool:
        if self.statuses and record.status not in self.statuses:
            return False
        return super().matches(record)

    def offered_by(self, adapter: Adapter) -> bool:
        return has_capability(adapter, Operations.LIST_ACTIVITIES)

    async def fetch(self, source: Source, offset: int, limit: int) -> list[Activity]:
        reader = capability(source.adapter, Operations.LIST_ACTIVITIES)
        return await reader.list_activities(
            source.credentials, self.pushdown(), offset=offset, limit=limit
        )

    def pushdown(self) -> ActivityQuery:
        start_date, end_date = self.pushdown_dates()
        return ActivityQuery(
            start_date=start_date,
            end_date=end_date,
            sports=self.sports,
            statuses=self.statuses,
            tags=self.tags,
        )


class LabTestFilter(RecordFilter[LabTest], frozen=True, kw_only=True):
    kind: ClassVar[str] = "t"

    created_by: str | None = None

    def matches(self, record: LabTest) -> bool:
        if self.created_by is not None and record.created_by != self.created_by:
            return False
        return super().matches(record)

    def offered_by(self, adapter: Adapter) -> bool:
        return has_capability(adapter, Operations.LIST_TESTS)

    async def fetch(self, source: Source, offset: int, limit: int) -> list[LabTest]:
        tests = capability(source.adapter, Operations.LIST_TESTS)
        return await tests.list_tests(
            source.credentials, self.pushdown(), offset=offset, limit=limit
        )

    def pushdown(self) -> LabTestQuery:
        start_date, end_date = self.pushdown_dates()
        return LabTestQuery(
            start_date=start_date,
            end_date=end_date,
            sports=self.sports,
            tags=self.tags,
            created_by=self.created_by,
        )


@functools.lru_cache(maxsize=256)
def _parsed_sports(sports: tuple[str, ...]) -> tuple[Sport, ...]:
    """Filter sports parsed once per distinct filter, not once per record."""
    return tuple(parse_sport_filter(s) for s in sports)


def _shifted(day: date, days: int) -> date | None:
    """`day` moved by `days`, or None (no bound pushed down, the gateway's exact filter does
    the work) outside the years a provider is asked about."""
    if not MIN_YEAR < day.year < MAX_YEAR:
        return None
    return day + timedelta(days=days)


def _as_date(bound: date | datetime) -> date:
    return bound.date() if isinstance(bound, datetime) else bound


def _within(item: Activity | LabTest, bound: date | datetime | None, *, lower: bool) -> bool:
    if bound is None:
        return True
    if isinstance(bound, datetime):
        return item.start >= bound if lower else item.start <= bound
    local_day = (item.start_local or item.start).date()
    return local_day >= bound if lower else local_day <= bound


class _Cursor(msgspec.Struct, frozen=True):
    v: int
    f: str
    o: dict[str, int]


def encode_cursor(filter_: RecordFilter[Any], offsets: dict[str, int]) -> str:
    raw = msgspec.json.encode(_Cursor(v=_CURSOR_VERSION, f=filter_.fingerprint(), o=offsets))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, filter_: RecordFilter[Any]) -> dict[str, int]:
    """Per-provider offsets from a cursor; a cursor from other filters or tampered is refused."""
    malformed = InvalidParameter("cursor", "the cursor is malformed; use next_cursor as returned")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        cursor = msgspec.json.decode(raw, type=_Cursor)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise malformed from None
    if cursor.v != _CURSOR_VERSION or any(
        not _EXHAUSTED <= offset <= _MAX_OFFSET for offset in cursor.o.values()
    ):
        raise malformed
    if cursor.f != filter_.fingerprint():
        raise InvalidParameter("cursor", "the cursor belongs to a query with other filters")
    return dict(cursor.o)


@dataclass
class _Stream(Generic[T]):
    """A provider's filtered records, fetched lazily in chunks from a raw offset."""

    source: Source
    filter: RecordFilter[T]
    next_raw: int
    exhausted: bool = False
    buffer: deque[tuple[int, T]] = field(default_factory=deque)
    failure: ProviderFailure | None = None

    async def fill(self, want: int) -> None:
        """Buffer at least `want` matching records, or all that remain."""
        chunk = max(want, _MIN_CHUNK)
        try:
            while len(self.buffer) < want and not self.exhausted:
                items = await self.filter.fetch(self.source, self.next_raw, chunk)
                for index, item in enumerate(items):
                    if self.filter.matches(item):
                        self.buffer.append((self.next_raw + index, item))
                self.next_raw += len(items)
                self.exhausted = len(items) < chunk
        except Exception as exc:  # an adapter bug must not take the other providers down
            self.failure = failure_of(self.source.name, exc)


def _sort_key(item: Activity | LabTest) -> tuple[float, str]:
    return (-item.start.timestamp(), item.id)


async def merge_listing(
    sources: list[AnySource], filter_: RecordFilter[T], *, limit: int, cursor: str | None
) -> tuple[list[T], str | None, list[ProviderFailure]]:
    """One page of records from every source that lists them, newest first, ties broken by
    id: the records, the next cursor (None at the end) and the providers that failed."""
    offsets = decode_cursor(cursor, filter_) if cursor else {}
    entries: list[_Stream[T] | ProviderFailure] = []
    for source in sources:
        if offsets.get(source.name, 0) == _EXHAUSTED or not filter_.offered_by(source.adapter):
            continue
        match source:
            case UnusableSource(name=name, error=error):
                entries.append(failure_of(name, error))
            case Source():
                entries.append(
                    _Stream(source=source, filter=filter_, next_raw=offsets.get(source.name, 0))
                )
    streams = [e for e in entries if isinstance(e, _Stream)]
    # Every stream buffers limit + 1 matches, concurrently: then the merge never waits, and
    # a leftover item proves there is a next page.
    await asyncio.gather(*(stream.fill(limit + 1) for stream in streams))
    failures = [
        f
        for f in (e if isinstance(e, ProviderFailure) else e.failure for e in entries)
        if f is not None
    ]
    live = [s for s in streams if s.failure is None]
    heap = [(_sort_key(s.buffer[0][1]), i) for i, s in enumerate(live) if s.buffer]
    heapq.heapify(heap)
    items: list[T] = []
    consumed: dict[str, int] = {}
    while heap and len(items) < limit:
        _, i = heapq.heappop(heap)
        stream = live[i]
        raw_index, item = stream.buffer.popleft()
        items.append(item)
        consumed[stream.source.name] = raw_index + 1
        if stream.buffer:
            heapq.heappush(heap, (_sort_key(stream.buffer[0][1]), i))
    next_offsets = dict(offsets)
    # A failed provider keeps its place, and a cursor to come back with: a retry may reach it.
    more = bool(failures)
    for failure in failures:
        next_offsets[failure.provider] = offsets.get(failure.provider, 0)
    for stream in live:
        name = stream.source.name
        if stream.buffer:
            more = True
            next_offsets[name] = consumed.get(name, offsets.get(name, 0))
        else:
            next_offsets[name] = _EXHAUSTED
    return items, encode_cursor(filter_, next_offsets) if more else None, failures


async def list_activities(
    sources: list[AnySource], filter_: ActivityFilter, *, limit: int, cursor: str | None
) -> ActivityPage:
    """One page of activities from every source that lists them, newest first, ties broken
    by id."""
    items, next_cursor, errors = await merge_listing(sources, filter_, limit=limit, cursor=cursor)
    return ActivityPage(items=items, next_cursor=next_cursor, errors=errors)


async def list_lab_tests(
    sources: list[AnySource], filter_: LabTestFilter, *, limit: int, cursor: str | None
) -> LabTestPage:
    """One page of lab tests from every source that lists them, newest first, ties broken
    by id."""
    items, next_cursor, errors = await merge_listing(sources, filter_, limit=limit, cursor=cursor)
    return LabTestPage(items=items, next_cursor=next_cursor, errors=errors)
