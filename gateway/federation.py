"""Listing activities across providers: exact filters, a k-way merge newest first, and an
opaque cursor that walks every matching activity exactly once.

Each provider is read as a stream in its own stable order (newest first), by offset. The
cursor records, per provider, the offset of the first raw item not yet handed out, so a
page boundary can split equal start times without losing or repeating an activity.
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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import msgspec
from open_sport_taxonomy import Sport

from training_gateway.adapters.base import ActivityQuery, Adapter, Credentials, TestQuery
from training_gateway.gateway.errors import status_for
from training_gateway.models.activity import Activity, ActivityStatus
from training_gateway.models.errors import GatewayError, InvalidInput
from training_gateway.models.lab_test import LabTest
from training_gateway.models.sport import parse_sport_filter, sport_matches

_log = logging.getLogger("gateway.federation")
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
_CURSOR_VERSION = 1
# Pages asked of a provider: small enough to stream, large enough to keep round trips few.
_MIN_CHUNK = 50
_EXHAUSTED = -1


class ProviderFailure(msgspec.Struct, kw_only=True):
    """A provider that could not contribute to a merged answer, and why."""

    provider: str
    status: int
    detail: str


class ActivityPage(msgspec.Struct, kw_only=True):
    """One page of the merged activity list."""

    items: list[Activity]
    next_cursor: str | None
    errors: list[ProviderFailure]


class ActivityFilter(msgspec.Struct, frozen=True, kw_only=True):
    """The caller's filters, applied exactly by the gateway whatever a provider can do.

    A date bound compares with the activity's local calendar date (its UTC date when the
    provider gives no local time); a datetime bound compares with the absolute start.
    Both bounds are inclusive; tags must all be present.
    """

    start: date | datetime | None = None
    end: date | datetime | None = None
    sports: tuple[str, ...] = ()
    statuses: tuple[ActivityStatus, ...] = ()
    tags: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()

    def matches(self, activity: Activity) -> bool:
        if self.statuses and activity.status not in self.statuses:
            return False
        if self.tags and not set(self.tags).issubset(activity.tags):
            return False
        if self.sports and not sport_matches(activity.sport, _parsed_sports(self.sports)):
            return False
        return _within(activity, self.start, lower=True) and _within(
            activity, self.end, lower=False
        )

    def pushdown(self) -> ActivityQuery:
        """Provider-side filters: a superset, with dates widened a day for time zones."""
        return ActivityQuery(
            start_date=_as_date(self.start) - timedelta(days=1) if self.start is not None else None,
            end_date=_as_date(self.end) + timedelta(days=1) if self.end is not None else None,
            sports=self.sports,
            statuses=self.statuses,
            tags=self.tags,
        )

    def fingerprint(self) -> str:
        return hashlib.sha256(msgspec.json.encode(self)).hexdigest()[:16]


@functools.lru_cache(maxsize=256)
def _parsed_sports(sports: tuple[str, ...]) -> tuple[Sport, ...]:
    """Filter sports parsed once per distinct filter, not once per activity."""
    return tuple(parse_sport_filter(s) for s in sports)


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


def encode_cursor(filter_: _Fingerprinted, offsets: dict[str, int]) -> str:
    raw = msgspec.json.encode(_Cursor(v=_CURSOR_VERSION, f=filter_.fingerprint(), o=offsets))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, filter_: _Fingerprinted) -> dict[str, int]:
    """Per-provider offsets from a cursor; a cursor from other filters or tampered is refused."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        cursor = msgspec.json.decode(raw, type=_Cursor)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidInput(
            "cursor", "the cursor is malformed; use next_cursor as returned", status=400
        ) from None
    if cursor.v != _CURSOR_VERSION or any(offset < _EXHAUSTED for offset in cursor.o.values()):
        raise InvalidInput(
            "cursor", "the cursor is malformed; use next_cursor as returned", status=400
        )
    if cursor.f != filter_.fingerprint():
        raise InvalidInput("cursor", "the cursor belongs to a query with other filters", status=400)
    return dict(cursor.o)


@dataclass
class Source:
    """One provider, as one caller sees it."""

    name: str
    adapter: Adapter
    credentials: Credentials


Fetch = Callable[[Source, int, int], Awaitable[list[Any]]]


@dataclass
class _Stream:
    """A provider's filtered items (activities or tests), fetched lazily in chunks from a raw
    offset."""

    source: Source
    fetch: Fetch
    matches: Callable[[Any], bool]
    next_raw: int
    exhausted: bool = False
    buffer: deque[tuple[int, Any]] = field(default_factory=deque)
    failure: ProviderFailure | None = None

    async def fill(self, want: int) -> None:
        """Buffer at least `want` matching items, or all that remain."""
        chunk = max(want, _MIN_CHUNK)
        try:
            while len(self.buffer) < want and not self.exhausted:
                items = await self.fetch(self.source, self.next_raw, chunk)
                for index, item in enumerate(items):
                    if self.matches(item):
                        self.buffer.append((self.next_raw + index, item))
                self.next_raw += len(items)
                self.exhausted = len(items) < chunk
        except GatewayError as exc:
            self.failure = ProviderFailure(
                provider=self.source.name, status=status_for(exc), detail=exc.detail
            )
        except Exception as exc:  # an adapter bug must not take the other providers down
            _log.error("adapter %s failed listing: %s", self.source.name, type(exc).__name__)
            self.failure = ProviderFailure(
                provider=self.source.name,
                status=502,
                detail=f"{self.source.name} adapter failed unexpectedly ({type(exc).__name__})",
            )


def _sort_key(item: Activity | LabTest) -> tuple[float, str]:
    return (-item.start.timestamp(), item.id)


class _Fingerprinted(Protocol):
    def fingerprint(self) -> str: ...


async def merge_listing(
    sources: list[Source],
    fetch: Fetch,
    matches: Callable[[Any], bool],
    filter_: _Fingerprinted,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[Any], str | None, list[ProviderFailure]]:
    """One page of items from every source, newest first, ties broken by id: the items, the
    next cursor (None at the end) and the providers that failed."""
    offsets = decode_cursor(cursor, filter_) if cursor else {}
    streams = [
        _Stream(source=s, fetch=fetch, matches=matches, next_raw=offsets.get(s.name, 0))
        for s in sources
        if offsets.get(s.name, 0) != _EXHAUSTED
    ]
    # Every stream buffers limit + 1 matches, concurrently: then the merge never waits, and
    # a leftover item proves there is a next page.
    await asyncio.gather(*(stream.fill(limit + 1) for stream in streams))
    live = [s for s in streams if s.failure is None]
    heap = [(_sort_key(s.buffer[0][1]), i) for i, s in enumerate(live) if s.buffer]
    heapq.heapify(heap)
    items: list[Any] = []
    consumed: dict[str, int] = {}
    while heap and len(items) < limit:
        _, i = heapq.heappop(heap)
        stream = live[i]
        raw_index, item = stream.buffer.popleft()
        items.append(item)
        consumed[stream.source.name] = raw_index + 1
        if stream.buffer:
            heapq.heappush(heap, (_sort_key(stream.buffer[0][1]), i))
    next_offsets = {name: offset for name, offset in offsets.items()}
    more = False
    for stream in streams:
        name = stream.source.name
        if stream.failure is not None:
            # Keep its place, and a cursor to come back with: a retry may reach it.
            next_offsets[name] = offsets.get(name, 0)
            more = True
            continue
        if stream.buffer:
            more = True
            next_offsets[name] = consumed.get(name, offsets.get(name, 0))
        else:
            next_offsets[name] = _EXHAUSTED
    return (
        items,
        encode_cursor(filter_, next_offsets) if more else None,
        [s.failure for s in streams if s.failure is not None],
    )


async def list_merged(
    sources: list[Source], filter_: ActivityFilter, *, limit: int, cursor: str | None
) -> ActivityPage:
    """One page of activities from every source, newest first, ties broken by id."""
    query = filter_.pushdown()

    async def fetch(source: Source, offset: int, chunk: int) -> list[Activity]:
        return await source.adapter.list_activities(
            source.credentials, query, offset=offset, limit=chunk
        )

    items, next_cursor, errors = await merge_listing(
        sources, fetch, filter_.matches, filter_, limit=limit, cursor=cursor
    )
    return ActivityPage(items=items, next_cursor=next_cursor, errors=errors)


# --- lab tests ----------------------------------------------------------------------------


class TestPage(msgspec.Struct, kw_only=True):
    """One page of the merged lab-test list."""

    __test__ = False

    items: list[LabTest]
    next_cursor: str | None
    errors: list[ProviderFailure]


class TestFilter(msgspec.Struct, frozen=True, kw_only=True):
    """The caller's test filters, applied exactly by the gateway (bounds as for activities:
    a date compares with the local calendar day, a datetime with the absolute start)."""

    __test__ = False

    start: date | datetime | None = None
    end: date | datetime | None = None
    sports: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    created_by: str | None = None
    providers: tuple[str, ...] = ()

    def matches(self, test: LabTest) -> bool:
        if self.tags and not set(self.tags).issubset(test.tags):
            return False
        if self.created_by is not None and test.created_by != self.created_by:
            return False
        if self.sports and not sport_matches(test.sport, _parsed_sports(self.sports)):
            return False
        return _within(test, self.start, lower=True) and _within(test, self.end, lower=False)

    def pushdown(self) -> TestQuery:
        return TestQuery(
            start_date=_as_date(self.start) - timedelta(days=1) if self.start is not None else None,
            end_date=_as_date(self.end) + timedelta(days=1) if self.end is not None else None,
            sports=self.sports,
            tags=self.tags,
            created_by=self.created_by,
        )

    def fingerprint(self) -> str:
        return "t" + hashlib.sha256(msgspec.json.encode(self)).hexdigest()[:15]


async def list_tests_merged(
    sources: list[Source], filter_: TestFilter, *, limit: int, cursor: str | None
) -> TestPage:
    """One page of lab tests from every source, newest first, ties broken by id."""
    query = filter_.pushdown()

    async def fetch(source: Source, offset: int, chunk: int) -> list[LabTest]:
        adapter: Any = source.adapter
        found: list[LabTest] = await adapter.list_tests(
            source.credentials, query, offset=offset, limit=chunk
        )
        return found

    items, next_cursor, errors = await merge_listing(
        sources, fetch, filter_.matches, filter_, limit=limit, cursor=cursor
    )
    return TestPage(items=items, next_cursor=next_cursor, errors=errors)
