"""Listing records (activities, lab tests) across providers: exact filters, a k-way merge
newest first, and an opaque cursor that walks every matching record exactly once.

A provider whose records the gateway has indexed in full and synced recently enough is read
from that index (`IndexedListing`), by keyset: the cursor holds the (start, id) of the last
record handed out, so records created or deleted during a walk neither repeat nor hide
others. Any other provider is read live, as a stream in its own stable order (newest first),
by offset: the cursor records, per provider, the offset of the first raw item not yet handed
out, so a page boundary can split equal start times without losing or repeating a record
while nothing changes, but a record created or deleted at the provider during a walk shifts
the offsets after it (one is then listed twice, or one skipped).
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar, Generic

import msgspec
from open_sport_taxonomy import Sport

from training_gateway.adapters.base import (
    ActivityQuery,
    Adapter,
    LabTestQuery,
    Operation,
    Operations,
    TraceQuery,
    capability,
    has_capability,
)
from training_gateway.gateway.errors import status_for
from training_gateway.gateway.services.sources import (
    AnySource,
    CallerSources,
    Source,
    UnusableSource,
)
from training_gateway.gateway.storage import Store
from training_gateway.gateway.storage import index as record_index
from training_gateway.gateway.wire import ActivityPage as ActivityPage
from training_gateway.gateway.wire import ActivityView as ActivityView
from training_gateway.gateway.wire import Consistency as Consistency
from training_gateway.gateway.wire import LabTestPage as LabTestPage
from training_gateway.gateway.wire import Page as Page
from training_gateway.gateway.wire import ProviderFailure as ProviderFailure
from training_gateway.gateway.wire import T as T
from training_gateway.gateway.wire import TracePage as TracePage
from training_gateway.models.activity import MAX_YEAR, MIN_YEAR, Activity, ActivityStatus
from training_gateway.models.errors import GatewayError, InvalidParameter, ProviderThrottled
from training_gateway.models.lab_test import LabTest
from training_gateway.models.sport import parse_sport_filter, sport_matches
from training_gateway.models.trace import Trace

_log = logging.getLogger("gateway.federation")
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
_CURSOR_VERSION = 2
# Pages asked of a provider: small enough to stream, large enough to keep round trips few.
_MIN_CHUNK = 50
_EXHAUSTED = -1
# No provider holds more records than this for one user; a cursor past it was not ours.
_MAX_OFFSET = 2**31 - 1


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


class RecordFilter(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """The caller's filters, applied exactly by the gateway whatever a provider can do.

    A date bound compares with the record's local calendar date (its UTC date when the
    provider gives no local time); a datetime bound compares with the absolute start.
    Both bounds are inclusive; tags must all be present.
    """

    # Tells the cursors of different record kinds apart.
    kind: ClassVar[str]
    # The kind of record the index holds of these (None: it holds none, lists read live).
    indexed_as: ClassVar[record_index.Kind | None] = None

    start: date | datetime | None = None
    end: date | datetime | None = None
    sports: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()

    def matches(self, record: T) -> bool:
        # Activities and tests; traces and dailies override this with their own rules.
        item: Any = record
        if self.tags and not set(self.tags).issubset(item.tags):
            return False
        if self.sports and not sport_matches(item.sport, _parsed_sports(self.sports)):
            return False
        return _within(item, self.start, lower=True) and _within(item, self.end, lower=False)

    def pushdown_dates(self) -> tuple[date | None, date | None]:
        """Provider-side date bounds: a superset, widened a day for time zones."""
        return (
            _shifted(_as_date(self.start), -1) if self.start is not None else None,
            _shifted(_as_date(self.end), 1) if self.end is not None else None,
        )

    def pushdown_moments(self) -> tuple[datetime | None, datetime | None]:
        """`pushdown_dates` as the first and last moments of those days, in UTC."""
        first, last = self.pushdown_dates()
        return (
            datetime.combine(first, time.min, UTC) if first is not None else None,
            datetime.combine(last, time.max, UTC) if last is not None else None,
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

    def scoped(self) -> dict[str, Operation[Any]]:
        """The provider-scoped parameters this filter uses, each with the operation a
        provider must offer to honour it (none for a filter every provider honours)."""
        return {}

    def require_honoured_by(
        self, adapters: Mapping[str, Adapter], providers: tuple[str, ...] = ()
    ) -> None:
        """Refuse (InvalidParameter naming it) a provider-scoped parameter when one of the
        providers the list covers (`providers`, or every one of `adapters`) cannot honour it:
        it must never be silently ignored."""
        covered = [adapters[name] for name in providers or adapters]
        for name, operation in self.scoped().items():
            unable = sorted(
                a.name for a in covered if self.offered_by(a) and not has_capability(a, operation)
            )
            if unable:
                able = sorted(
                    a for a, adapter in adapters.items() if has_capability(adapter, operation)
                )
                ask = " or ".join(f"provider={p}" for p in able) or "a provider that has it"
                raise InvalidParameter(
                    name,
                    f"{name} is provider-scoped ({operation.capability.value}) and "
                    f"{', '.join(unable)} cannot honour it; narrow the list with {ask}",
                )


class ActivityFilter(RecordFilter[Activity], frozen=True, kw_only=True):
    """The activity list's filters. `athlete` (coach access), `plan_instance_id` and
    `view="raw"` are provider-scoped: the providers that declare their capability honour
    them exactly; a list using one is read live, and a provider's failure is its answer."""

    kind: ClassVar[str] = ""
    indexed_as: ClassVar[record_index.Kind] = "activity"

    statuses: tuple[ActivityStatus, ...] = ()
    athlete: str | None = None
    plan_instance_id: str | None = None
    view: ActivityView = "unified"

    def matches(self, record: Activity) -> bool:
        if self.statuses and record.status not in self.statuses:
            return False
        return super().matches(record)

    def offered_by(self, adapter: Adapter) -> bool:
        return has_capability(adapter, Operations.LIST_ACTIVITIES)

    def scoped(self) -> dict[str, Operation[Any]]:
        used: dict[str, Operation[Any]] = {}
        if self.athlete is not None:
            used["athlete"] = Operations.COACH_ACCESS
        if self.plan_instance_id is not None:
            used["plan_instance_id"] = Operations.PLAN_FILTER
        if self.view == "raw":
            used["view"] = Operations.RAW_VIEW
        return used

    async def fetch(self, source: Source, offset: int, limit: int) -> list[Activity]:
        if self.view == "raw":
            raw = capability(source.adapter, Operations.RAW_VIEW)
            return await raw.list_raw_activities(
                source.credentials, self.pushdown(), offset=offset, limit=limit
            )
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
            athlete=self.athlete,
            plan_instance_id=self.plan_instance_id,
        )


class LabTestFilter(RecordFilter[LabTest], frozen=True, kw_only=True):
    kind: ClassVar[str] = "t"
    indexed_as: ClassVar[record_index.Kind] = "test"

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


class TraceFilter(RecordFilter[Trace], frozen=True, kw_only=True):
    """Traces: bounds compare with the trace's moment (a date with its local calendar day), a
    sport filter keeps only traces with a matching sport. Traces are not indexed: read live."""

    kind: ClassVar[str] = "r"

    def matches(self, record: Trace) -> bool:
        if self.tags and not set(self.tags).issubset(record.tags):
            return False
        if self.sports and (
            record.sport is None or not sport_matches(record.sport, _parsed_sports(self.sports))
        ):
            return False
        return _instant_within(
            record.timestamp, record.timestamp_local, self.start, lower=True
        ) and _instant_within(record.timestamp, record.timestamp_local, self.end, lower=False)

    def offered_by(self, adapter: Adapter) -> bool:
        return has_capability(adapter, Operations.LIST_TRACES)

    async def fetch(self, source: Source, offset: int, limit: int) -> list[Trace]:
        traces = capability(source.adapter, Operations.LIST_TRACES)
        start_date, end_date = self.pushdown_dates()
        query = TraceQuery(
            start_date=start_date, end_date=end_date, sports=self.sports, tags=self.tags
        )
        return await traces.list_traces(source.credentials, query, offset=offset, limit=limit)


def _day_within(day: date, start: date | datetime | None, end: date | datetime | None) -> bool:
    return (start is None or day >= _as_date(start)) and (end is None or day <= _as_date(end))


def _instant_within(
    instant: datetime, local: datetime | None, bound: date | datetime | None, *, lower: bool
) -> bool:
    if bound is None:
        return True
    if isinstance(bound, datetime):
        return instant >= bound if lower else instant <= bound
    local_day = (local or instant).date()
    return local_day >= bound if lower else local_day <= bound


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


class _Cursor(msgspec.Struct, frozen=True, kw_only=True):
    v: int
    f: str
    c: Consistency
    # Per provider read live, the offset of its first raw item not handed out (or EXHAUSTED).
    o: dict[str, int]
    # The providers read from the index, and the (epoch µs, id) key of the last record the
    # walk handed out, after which each of them continues.
    x: list[str] = []
    k: tuple[int, str] | None = None


class WalkPosition(msgspec.Struct, kw_only=True):
    """Where a walk stands: per live provider its offset, the providers read from the index
    and the key after which they continue."""

    offsets: dict[str, int] = msgspec.field(default_factory=dict)
    indexed: list[str] = msgspec.field(default_factory=list)
    key: tuple[datetime, str] | None = None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_cursor(
    filter_: RecordFilter[Any], position: WalkPosition, consistency: Consistency
) -> str:
    key = position.key
    cursor = _Cursor(
        v=_CURSOR_VERSION,
        f=filter_.fingerprint(),
        c=consistency,
        o=position.offsets,
        x=sorted(position.indexed),
        k=None if key is None else ((key[0] - _EPOCH) // timedelta(microseconds=1), key[1]),
    )
    return base64.urlsafe_b64encode(msgspec.json.encode(cursor)).decode().rstrip("=")


def decode_cursor(token: str, filter_: RecordFilter[Any], consistency: Consistency) -> WalkPosition:
    """Where the walk a cursor belongs to stands; a cursor from other filters or tampered is
    refused."""
    malformed = InvalidParameter("cursor", "the cursor is malformed; use next_cursor as returned")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        cursor = msgspec.json.decode(raw, type=_Cursor)
        key = (
            None
            if cursor.k is None
            else (_EPOCH + timedelta(microseconds=cursor.k[0]), cursor.k[1])
        )
    except (binascii.Error, ValueError, OverflowError, msgspec.DecodeError):
        raise malformed from None
    if cursor.v != _CURSOR_VERSION or any(
        not _EXHAUSTED <= offset <= _MAX_OFFSET for offset in cursor.o.values()
    ):
        raise malformed
    if cursor.f != filter_.fingerprint():
        raise InvalidParameter("cursor", "the cursor belongs to a query with other filters")
    if cursor.c != consistency:
        raise InvalidParameter(
            "cursor", f"the cursor belongs to a walk with consistency={cursor.c}; ask the same"
        )
    return WalkPosition(offsets=dict(cursor.o), indexed=list(cursor.x), key=key)


@dataclass(kw_only=True)
class _Stream(Generic[T]):
    """A provider's filtered records, buffered in chunks in the merge's order; each buffered
    record with its raw position in the provider's stream (offset-read streams use it)."""

    source: Source
    filter: RecordFilter[T]
    exhausted: bool = False
    buffer: deque[tuple[int, T]] = field(default_factory=deque)
    failure: ProviderFailure | None = None

    async def read(self, chunk: int) -> list[tuple[int, T]]:
        """The next `chunk` raw records (fewer at the end), each with its position."""
        raise NotImplementedError

    def failed(self, exc: Exception) -> ProviderFailure:
        # an adapter bug must not take the other providers down
        return failure_of(self.source.name, exc)

    async def fill(self, want: int) -> None:
        """Buffer at least `want` matching records, or all that remain."""
        chunk = max(want, _MIN_CHUNK)
        try:
            while len(self.buffer) < want and not self.exhausted:
                read = await self.read(chunk)
                self.buffer.extend(entry for entry in read if self.filter.matches(entry[1]))
                self.exhausted = len(read) < chunk
        except Exception as exc:
            if self.filter.scoped() and isinstance(exc, GatewayError):
                raise  # asked of the providers that honour it alone: a failure is the answer
            self.failure = self.failed(exc)


@dataclass(kw_only=True)
class _LiveStream(_Stream[T]):
    """A provider read live, by offset."""

    next_raw: int

    async def read(self, chunk: int) -> list[tuple[int, T]]:
        items = await self.filter.fetch(self.source, self.next_raw, chunk)
        read = [(self.next_raw + index, item) for index, item in enumerate(items)]
        self.next_raw += len(items)
        return read


class IndexedListing:
    """Reading a user's providers from the gateway's synced index instead of live: which
    providers' indexes are complete and fresh enough, and their records by keyset."""

    def __init__(self, store: Store, user_id: str, max_age_s: dict[str, float], default_s: float):
        self.store, self.user_id = store, user_id
        self._max_age_s, self._default_s = max_age_s, default_s

    @classmethod
    def of(cls, sources: CallerSources) -> IndexedListing:
        """The caller's indexes, with the gateway's freshness settings."""
        settings = sources.gateway.settings
        return cls(
            sources.gateway.store,
            sources.user.id,
            settings.index_freshness_s,
            settings.default_index_freshness_s,
        )

    def max_age_s(self, provider: str) -> float:
        """How old `provider`'s index may be to be read (0: always read it live)."""
        return self._max_age_s.get(provider, self._default_s)

    async def fresh(self, kind: record_index.Kind, providers: list[str]) -> dict[str, datetime]:
        """Of `providers`, those whose index is complete and young enough: when each synced."""
        now = datetime.now(UTC)
        synced = await self.synced_at(kind, [p for p in providers if self.max_age_s(p) > 0])
        return {
            provider: moment
            for provider, moment in synced.items()
            if (now - moment).total_seconds() <= self.max_age_s(provider)
        }

    async def synced_at(self, kind: record_index.Kind, providers: list[str]) -> dict[str, datetime]:
        async with self.store.engine.connect() as conn:
            return await record_index.synced_at(conn, self.user_id, kind, providers)

    async def records(
        self,
        provider: str,
        filter_: RecordFilter[T],
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[T]:
        kind = filter_.indexed_as
        assert kind is not None, "records of this kind are not indexed"
        oldest, newest = filter_.pushdown_moments()
        async with self.store.engine.connect() as conn:
            rows = await record_index.indexed_documents(
                conn,
                self.user_id,
                provider,
                kind,
                after=after,
                oldest=oldest,
                newest=newest,
                limit=limit,
            )
        record_type = record_index.RECORD_TYPES[kind]
        return [msgspec.json.decode(document, type=record_type) for document in rows]  # type: ignore[misc]


@dataclass(kw_only=True)
class _IndexStream(_Stream[T]):
    """A provider read from the index, by keyset after `after`."""

    index: IndexedListing
    after: tuple[datetime, str] | None

    async def read(self, chunk: int) -> list[tuple[int, T]]:
        items = await self.index.records(self.source.name, self.filter, self.after, chunk)
        if items:
            self.after = _key_of(items[-1])
        return [(0, item) for item in items]

    def failed(self, exc: Exception) -> ProviderFailure:
        return failure_of(GATEWAY, exc, about=f"the {self.source.name} index")


def _key_of(record: Any) -> tuple[datetime, str]:
    """An indexed record's keyset key: its start and id."""
    return (record.start, record.id)


def _sort_key(item: Activity | LabTest | Trace) -> tuple[float, str]:
    return (-item.start.timestamp(), item.id)


async def merge_listing(
    sources: list[AnySource],
    filter_: RecordFilter[T],
    *,
    limit: int,
    cursor: str | None,
    index: IndexedListing | None = None,
    consistency: Consistency = "index",
) -> Page[T]:
    """One page of records from every source that lists them, newest first, ties broken by
    id, with the next cursor (None at the end) and the providers that failed. With `index`
    and `consistency` "index", providers whose index is fresh are read from it."""
    position = decode_cursor(cursor, filter_, consistency) if cursor else WalkPosition()
    offsets = position.offsets
    listed = [
        s for s in sources if offsets.get(s.name, 0) != _EXHAUSTED and filter_.offered_by(s.adapter)
    ]
    freshness: dict[str, datetime] = {}
    kind = filter_.indexed_as
    scoped = bool(filter_.scoped())
    if kind is None or scoped:  # the index holds the caller's own records, unscoped
        index = None
    if index is not None and kind is not None and cursor is None and consistency == "index":
        usable = [s.name for s in listed if isinstance(s, Source)]
        freshness = await index.fresh(kind, usable)
        position.indexed = sorted(freshness)
    elif index is not None and kind is not None and position.indexed:
        # A walk keeps reading a provider the way it started: from the index, however old.
        freshness = await index.synced_at(kind, position.indexed)
    indexed = set(position.indexed)
    entries: list[_Stream[T] | ProviderFailure] = []
    for source in listed:
        match source:
            case UnusableSource(error=error) if scoped:
                raise error
            case UnusableSource(name=name, error=error):
                entries.append(failure_of(name, error))
            case Source(name=name) if name in indexed and index is not None:
                entries.append(
                    _IndexStream(source=source, filter=filter_, index=index, after=position.key)
                )
            case Source():
                entries.append(
                    _LiveStream(source=source, filter=filter_, next_raw=offsets.get(source.name, 0))
                )
    streams = [e for e in entries if not isinstance(e, ProviderFailure)]
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
    following = WalkPosition(
        offsets=dict(offsets),
        indexed=position.indexed,
        key=_key_of(items[-1]) if items else position.key,
    )
    # A failed provider keeps its place, and a cursor to come back with: a retry may reach it.
    more = bool(failures)
    for failure in failures:
        if failure.provider not in indexed:
            following.offsets[failure.provider] = offsets.get(failure.provider, 0)
    for stream in live:
        name = stream.source.name
        if not stream.buffer:
            following.offsets[name] = _EXHAUSTED
        elif isinstance(stream, _LiveStream):
            more = True
            following.offsets[name] = consumed.get(name, offsets.get(name, 0))
        else:
            more = True
            following.offsets.pop(name, None)
    return Page(
        items=items,
        next_cursor=encode_cursor(filter_, following, consistency) if more else None,
        errors=failures,
        freshness={p: freshness[p] for p in position.indexed if p in freshness},
    )


async def list_activities(
    sources: list[AnySource],
    filter_: ActivityFilter,
    *,
    limit: int,
    cursor: str | None,
    index: IndexedListing | None = None,
    consistency: Consistency = "index",
) -> ActivityPage:
    """One page of activities from every source that lists them, newest first, ties broken
    by id."""
    page = await merge_listing(
        sources, filter_, limit=limit, cursor=cursor, index=index, consistency=consistency
    )
    return ActivityPage(**msgspec.structs.asdict(page))


async def list_lab_tests(
    sources: list[AnySource],
    filter_: LabTestFilter,
    *,
    limit: int,
    cursor: str | None,
    index: IndexedListing | None = None,
    consistency: Consistency = "index",
) -> LabTestPage:
    """One page of lab tests from every source that lists them, newest first, ties broken
    by id."""
    page = await merge_listing(
        sources, filter_, limit=limit, cursor=cursor, index=index, consistency=consistency
    )
    return LabTestPage(**msgspec.structs.asdict(page))


async def list_traces(
    sources: list[AnySource],
    filter_: TraceFilter,
    *,
    limit: int,
    cursor: str | None,
) -> TracePage:
    """One page of traces from every source that lists them, newest first, ties broken by id
    (read live: the index holds no traces)."""
    page = await merge_listing(sources, filter_, limit=limit, cursor=cursor)
    return TracePage(**msgspec.structs.asdict(page))
