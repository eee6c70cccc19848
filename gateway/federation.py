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
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import msgspec
from open_sport_taxonomy import Sport

from adapters.base import ActivityQuery, Adapter, Credentials
from gateway.errors import status_for
from models.activity import Activity, ActivityStatus
from models.errors import GatewayError, InvalidInput
from models.sport import parse_sport_filter, sport_matches

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


def _within(activity: Activity, bound: date | datetime | None, *, lower: bool) -> bool:
    if bound is None:
        return True
    if isinstance(bound, datetime):
        return activity.start >= bound if lower else activity.start <= bound
    local_day = (activity.start_local or activity.start).date()
    return local_day >= bound if lower else local_day <= bound


class _Cursor(msgspec.Struct, frozen=True):
    v: int
    f: str
    o: dict[str, int]


def encode_cursor(filter_: ActivityFilter, offsets: dict[str, int]) -> str:
    raw = msgspec.json.encode(_Cursor(v=_CURSOR_VERSION, f=filter_.fingerprint(), o=offsets))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, filter_: ActivityFilter) -> dict[str, int]:
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


@dataclass
class _Stream:
    """A provider's filtered activities, fetched lazily in chunks from a raw offset."""

    source: Source
    query: ActivityQuery
    filter: ActivityFilter
    next_raw: int
    exhausted: bool = False
    buffer: deque[tuple[int, Activity]] = field(default_factory=deque)
    failure: ProviderFailure | None = None

    async def fill(self, want: int) -> None:
        """Buffer at least `want` matching activities, or all that remain."""
        chunk = max(want, _MIN_CHUNK)
        try:
            while len(self.buffer) < want and not self.exhausted:
                items = await self.source.adapter.list_activities(
                    self.source.credentials, self.query, offset=self.next_raw, limit=chunk
                )
                for index, activity in enumerate(items):
                    if self.filter.matches(activity):
                        self.buffer.append((self.next_raw + index, activity))
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


def _sort_key(activity: Activity) -> tuple[float, str]:
    return (-activity.start.timestamp(), activity.id)


async def list_merged(
    sources: list[Source], filter_: ActivityFilter, *, limit: int, cursor: str | None
) -> ActivityPage:
    """One page of activities from every source, newest first, ties broken by id."""
    offsets = decode_cursor(cursor, filter_) if cursor else {}
    query = filter_.pushdown()
    streams = [
        _Stream(source=s, query=query, filter=filter_, next_raw=offsets.get(s.name, 0))
        for s in sources
        if offsets.get(s.name, 0) != _EXHAUSTED
    ]
    for stream in streams:
        stream.exhausted = False
    # Every stream buffers limit + 1 matches, concurrently: then the merge never waits, and
    # a leftover item proves there is a next page.
    await asyncio.gather(*(stream.fill(limit + 1) for stream in streams))
    live = [s for s in streams if s.failure is None]
    heap = [(_sort_key(s.buffer[0][1]), i) for i, s in enumerate(live) if s.buffer]
    heapq.heapify(heap)
    items: list[Activity] = []
    consumed: dict[str, int] = {}
    while heap and len(items) < limit:
        _, i = heapq.heappop(heap)
        stream = live[i]
        raw_index, activity = stream.buffer.popleft()
        items.append(activity)
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
    return ActivityPage(
        items=items,
        next_cursor=encode_cursor(filter_, next_offsets) if more else None,
        errors=[s.failure for s in streams if s.failure is not None],
    )
