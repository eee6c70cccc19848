"""What the gateway knows of each connection's records, kept current three ways, each of
which emits the unified events of what changed:

- writes through the gateway (`written`, `removed`): at once;
- provider webhooks (`process_inbound`): the job fetches what the webhook names;
- reconciliation (`reconcile`): the provider's recent records, read again and compared with
  the index, which finds changes at providers that send no webhooks, deletions included.

A change is worked out against the index in the same transaction that records its event, so
the second of two ways to see one change (a write, then its webhook) finds nothing new.
Backfills (`backfill_page`) fill the index with a new connection's history, a page at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from training_gateway.adapters.base import (
    ActivityQuery,
    InboundChange,
    LabTestQuery,
    Operations,
    capability,
    has_capability,
)
from training_gateway.gateway.jobs import INBOUND_QUEUE, SYNC_QUEUE, Jobs
from training_gateway.gateway.observability import current_request_id
from training_gateway.gateway.runtime import Gateway
from training_gateway.gateway.services.events import Events
from training_gateway.gateway.services.sources import CallerSources, Source
from training_gateway.gateway.storage import User
from training_gateway.gateway.storage import index as record_index
from training_gateway.gateway.storage.index import Change, Kind, Record, SyncState
from training_gateway.gateway.storage.tables import inbound_webhooks
from training_gateway.models.activity import federated_id
from training_gateway.models.errors import GatewayError, NotFound

_log = logging.getLogger("gateway.sync")

# Records read per page by reconciliations and backfills.
PAGE_SIZE = 100
# The far end of a reconciled window: every record from its start on.
_END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)


class SyncReport(msgspec.Struct, kw_only=True):
    """What one reconciliation or webhook found."""

    created: int = 0
    updated: int = 0
    deleted: int = 0

    def add(self, changes: Sequence[Change]) -> None:
        for change in changes:
            setattr(self, change.change, getattr(self, change.change) + 1)


class BackfillPage(msgspec.Struct, kw_only=True, array_like=True):
    indexed: int  # records indexed from the page
    read: int  # records the page held (the next page starts after them)
    done: bool


@dataclass
class _Fetched:
    records: dict[str, Record] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)


class Sync:
    def __init__(self, gateway: Gateway, events: Events, jobs: Jobs) -> None:
        self.gateway = gateway
        self.store = gateway.store
        self.events = events
        self.jobs = jobs

    # applying changes

    async def _apply(
        self,
        user: User,
        provider: str,
        kind: Kind,
        work: Callable[[Any], Awaitable[list[Change]]],
        *,
        emit: bool = True,
        synced: bool = False,
    ) -> list[Change]:
        """Run `work(conn)` on the connection's locked index and record an event per change
        it finds, in one transaction; the deliveries are handed over once it commits."""
        delivery_ids: list[str] = []
        user_id = user.id
        async with self.store.engine.begin() as conn:
            await record_index.lock_connection(conn, user_id, provider, kind)
            changes = await work(conn)
            if emit:
                for change in changes:
                    _, ids = await self.events.record(
                        conn,
                        f"{kind}.{change.change}",
                        user_id=user_id,
                        user_name=user.name,
                        provider=provider,
                        resource_id=change.record_id,
                        resource=change.record,
                    )
                    delivery_ids.extend(ids)
            starts = [c.record.start for c in changes if c.record is not None]
            await record_index.extend(
                conn,
                user_id,
                provider,
                kind,
                starts=starts,
                synced_at=datetime.now(UTC) if synced else None,
            )
        await self.events.dispatch(delivery_ids)
        return changes

    async def written(self, user: User, source: Source, kind: Kind, record: Record) -> None:
        """A record created or changed through the gateway: indexed and announced now, so
        the provider's webhook and the next reconciliation find nothing new in it. It is
        read back first, as what the provider holds can say more than its answer to the
        write did (SweatStack links a test's activities only when it is read)."""
        provider = source.name
        try:
            record = await self._fetch(source, kind, record.id.split(":", 1)[1])
        except GatewayError as exc:  # the write happened: announce it as the provider answered
            _log.warning("could not read back a %s %s just written: %s", provider, kind, exc.detail)

        async def work(conn: Any) -> list[Change]:
            return await record_index.observe(conn, user.id, provider, kind, [record])

        await self._apply(user, provider, kind, work)

    async def removed(self, user: User, provider: str, kind: Kind, record_id: str) -> None:
        """A record deleted through the gateway."""

        async def work(conn: Any) -> list[Change]:
            return await record_index.forget(conn, user.id, provider, kind, record_id)

        await self._apply(user, provider, kind, work)

    # reconciliation

    def window_start(self) -> datetime:
        days = self.gateway.settings.reconcile_window_days
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return today - timedelta(days=days)

    async def source_of(self, user_id: str, provider: str) -> tuple[User, Source]:
        user = await self.store.user_by_id(user_id)
        return user, await CallerSources(self.gateway, user).one(provider)

    async def reconcile(self, user_id: str, provider: str) -> SyncReport:
        """Read the connection's records that start within the reconciled window and emit
        what changed since the index last saw them, deletions included."""
        user, source = await self.source_of(user_id, provider)
        since = self.window_start()
        report = SyncReport()
        as_of = datetime.now(UTC)  # before reading: anything the index sees later is newer
        for kind, records in await self._recent(source, since):
            fetched = await self._changed_in_full(user, source, kind, records)
            listed = [r for r in records if r.id not in fetched.gone]

            async def work(
                conn: Any, kind: Kind = kind, listed: list[Record] = listed, found: Any = fetched
            ) -> list[Change]:
                return await record_index.observe_listing(
                    conn,
                    user.id,
                    provider,
                    kind,
                    listed,
                    found.records,
                    window=(since, _END_OF_TIME),
                    as_of=as_of,
                )

            report.add(await self._apply(user, provider, kind, work, synced=True))
        return report

    async def _changed_in_full(
        self, user: User, source: Source, kind: Kind, listed: Sequence[Record]
    ) -> _Fetched:
        """The listed records whose list form is not as the index last listed it, read one
        by one (a list may say less than a record read alone); those gone meanwhile apart."""
        async with self.store.engine.connect() as conn:
            known = await record_index.listed_fingerprints(conn, user.id, [r.id for r in listed])
        found = _Fetched()
        for item in listed:
            if known.get(item.id) == record_index.fingerprint(item):
                continue
            try:
                found.records[item.id] = await self._fetch(source, kind, item.id.split(":", 1)[1])
            except NotFound:
                found.gone.add(item.id)
        return found

    async def _recent(self, source: Source, since: datetime) -> list[tuple[Kind, list[Record]]]:
        """Per kind of record the provider lists, its records starting since `since`."""
        return [
            (kind, [r async for r in self._pages(source, kind, since) if r.start >= since])
            for kind in record_index.KINDS
            if self._lists(source, kind)
        ]

    def _lists(self, source: Source, kind: Kind) -> bool:
        operation = Operations.LIST_ACTIVITIES if kind == "activity" else Operations.LIST_TESTS
        return has_capability(source.adapter, operation)

    async def _pages(self, source: Source, kind: Kind, since: datetime | None) -> Any:
        offset = 0
        while True:
            page = await self._page(source, kind, since, offset, PAGE_SIZE)
            for record in page:
                yield record
            if len(page) < PAGE_SIZE:
                return
            offset += len(page)

    async def _page(
        self, source: Source, kind: Kind, since: datetime | None, offset: int, limit: int
    ) -> list[Record]:
        if not self._lists(source, kind):
            return []
        start_date = since.date() if since is not None else None
        if kind == "activity":
            reader = capability(source.adapter, Operations.LIST_ACTIVITIES)
            return list(
                await reader.list_activities(
                    source.credentials,
                    ActivityQuery(start_date=start_date),
                    offset=offset,
                    limit=limit,
                )
            )
        tests = capability(source.adapter, Operations.LIST_TESTS)
        return list(
            await tests.list_tests(
                source.credentials, LabTestQuery(start_date=start_date), offset=offset, limit=limit
            )
        )

    async def due(self, now: datetime) -> list[tuple[str, str, int]]:
        """Connections whose reconciliation is due: (user id, provider, time slot), for
        providers that list records, once their backfill has finished."""
        settings = self.gateway.settings
        due: list[tuple[str, str, int]] = []
        states = await self._sync_states()
        for user_id, provider in await self.store.active_connections():
            adapter = self.gateway.adapters.get(provider)
            if adapter is None:
                continue
            interval = settings.reconcile_interval_s.get(
                provider, settings.default_reconcile_interval_s
            )
            if interval <= 0:
                continue
            kinds = states.get((user_id, provider), {})
            if any(state.backfill_status in ("pending", "running") for state in kinds.values()):
                continue
            synced = [s.synced_at for s in kinds.values() if s.synced_at is not None]
            last = max(synced) if synced else None
            if last is not None and (now - last).total_seconds() < interval:
                continue
            due.append((user_id, provider, int(now.timestamp() // interval)))
        return due

    async def _sync_states(self) -> dict[tuple[str, str], dict[str, SyncState]]:
        found: dict[tuple[str, str], dict[str, SyncState]] = {}
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(select(record_index.sync_state))
            for row in rows:
                found.setdefault((row.user_id, row.provider), {})[row.kind] = SyncState(
                    kind=row.kind,
                    backfill_status=row.backfill_status,
                    backfill_indexed=row.backfill_indexed,
                    synced_at=record_index._aware(row.synced_at),
                )
        return found

    # backfill

    async def start_backfill(self, user: User, provider: str) -> None:
        """After a connection is made: index its history, as a job. A reconnect refills only
        what is newer than the last sync (the index kept the rest)."""
        since: datetime | None = None
        async with self.store.engine.begin() as conn:
            for kind in record_index.KINDS:
                await record_index.lock_connection(conn, user.id, provider, kind)
            states = await record_index.sync_states(conn, user.id, provider)
            synced = [s.synced_at for s in states if s.synced_at is not None]
            if synced and all(s.backfill_status == "done" for s in states):
                since = min(synced) - timedelta(days=1)
            for kind in record_index.KINDS:
                await record_index.extend(conn, user.id, provider, kind, status="pending")
        _log.info(
            "indexing the %s history of a connection %s",
            provider,
            f"since {since:%Y-%m-%d %H:%M}" if since is not None else "in full",
        )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        await self.jobs.enqueue(
            "backfill",
            SYNC_QUEUE,
            f"backfill-{user.id}-{provider}-{stamp}",
            user.id,
            provider,
            since.isoformat() if since is not None else None,
        )

    async def backfill_page(
        self, user_id: str, provider: str, kind: Kind, since: str | None, offset: int
    ) -> BackfillPage:
        """Index one page of the connection's history from `offset` (newest first). A full
        backfill is history, announced by no event; a reconnect's refill of the gap since
        the last sync emits what changed meanwhile. A user who left meanwhile has no history
        left to index: done."""
        try:
            user = await self.store.user_by_id(user_id)
        except NotFound:
            return BackfillPage(indexed=0, read=0, done=True)
        source = await CallerSources(self.gateway, user).one(provider)
        after = datetime.fromisoformat(since) if since is not None else None
        as_of = datetime.now(UTC)
        read = await self._page(source, kind, after, offset, PAGE_SIZE)
        page = [record for record in read if after is None or record.start >= after]
        fetched = (
            await self._changed_in_full(user, source, kind, page)
            if after is not None
            else _Fetched()
        )
        page = [record for record in page if record.id not in fetched.gone]

        async def work(conn: Any) -> list[Change]:
            return await record_index.observe_listing(
                conn,
                user.id,
                provider,
                kind,
                page,
                fetched.records,
                window=None,
                as_of=as_of,
            )

        done = len(read) < PAGE_SIZE
        await self._apply(user, provider, kind, work, emit=after is not None, synced=done)
        async with self.store.engine.begin() as conn:
            await record_index.extend(
                conn,
                user.id,
                provider,
                kind,
                indexed=len(page),
                status="done" if done else "running",
            )
        return BackfillPage(indexed=len(page), read=len(read), done=done)

    async def backfill_failed(self, user_id: str, provider: str, detail: str) -> None:
        try:
            await self.store.user_by_id(user_id)
        except NotFound:  # the user left: there is no index to mark
            return
        async with self.store.engine.begin() as conn:
            for kind in record_index.KINDS:
                await record_index.lock_connection(conn, user_id, provider, kind)
                await record_index.extend(
                    conn, user_id, provider, kind, status="failed", detail=detail
                )

    async def sync_states(self, user: User, provider: str) -> list[SyncState]:
        async with self.store.engine.connect() as conn:
            return await record_index.sync_states(conn, user.id, provider)

    # provider webhooks

    async def receive(self, provider: str, change: InboundChange, body: bytes) -> bool:
        """Keep a verified webhook and enqueue its processing; False for a redelivery of one
        already received (nothing is enqueued twice)."""
        try:
            async with self.store.engine.begin() as conn:
                await conn.execute(
                    insert(inbound_webhooks).values(
                        provider=provider,
                        dedupe_key=change.dedupe_key,
                        received_at=datetime.now(UTC),
                        payload=msgspec.json.encode(change).decode(),
                    )
                )
        except IntegrityError:
            return False
        # Kept: the answer need not wait for the job to be enqueued (the sweeper enqueues
        # it if this process dies first).
        self.jobs.defer(*self._inbound_job(provider, change.dedupe_key))
        return True

    def _inbound_job(
        self, provider: str, dedupe_key: str
    ) -> tuple[str, str, str, str, str, str | None]:
        # The job keeps the id of the request that received the webhook: its log lines and
        # provider calls carry it (None when the sweeper enqueues one found later).
        job_id = f"inbound-{provider}-{dedupe_key}"
        return "inbound", INBOUND_QUEUE, job_id, provider, dedupe_key, current_request_id()

    async def enqueue_inbound(self, provider: str, dedupe_key: str) -> None:
        await self.jobs.enqueue(*self._inbound_job(provider, dedupe_key))

    async def unprocessed_inbound(self, older_than_s: float) -> list[tuple[str, str]]:
        """Webhooks received whose job may have been lost to a crash before it was enqueued."""
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
        query = select(inbound_webhooks.c.provider, inbound_webhooks.c.dedupe_key).where(
            inbound_webhooks.c.processed_at.is_(None), inbound_webhooks.c.received_at < cutoff
        )
        async with self.store.engine.connect() as conn:
            return [(row.provider, row.dedupe_key) for row in await conn.execute(query)]

    async def process_inbound(self, provider: str, dedupe_key: str) -> SyncReport:
        """The job of one provider webhook: for each gateway user behind the provider's
        subject, fetch what it names with that user's token and emit what changed."""
        async with self.store.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(inbound_webhooks).where(
                        inbound_webhooks.c.provider == provider,
                        inbound_webhooks.c.dedupe_key == dedupe_key,
                    )
                )
            ).one()
        change = msgspec.json.decode(row.payload, type=InboundChange)
        report = SyncReport()
        if row.processed_at is None:
            users = await self.store.users_of_subject(provider, change.subject)
            if not users:
                _log.info(
                    "dropped a %s webhook (%s %s) for a user no one has connected",
                    provider,
                    change.kind,
                    change.change,
                )
            for user in users:
                await self._inbound_for(user, provider, change, report)
            async with self.store.engine.begin() as conn:
                await conn.execute(
                    update(inbound_webhooks)
                    .where(
                        inbound_webhooks.c.provider == provider,
                        inbound_webhooks.c.dedupe_key == dedupe_key,
                    )
                    .values(processed_at=datetime.now(UTC))
                )
        return report

    async def _inbound_for(
        self, user: User, provider: str, change: InboundChange, report: SyncReport
    ) -> None:
        if change.kind == "source" or change.native_id is None:
            # A file was processed (or failed to be): what it made is found by reading again.
            found = await self.reconcile(user.id, provider)
            report.created += found.created
            report.updated += found.updated
            report.deleted += found.deleted
            return
        kind: Kind = change.kind
        record_id = federated_id(provider, change.native_id)
        if change.change == "deleted":
            report.add(await self._forget(user, provider, kind, record_id))
            return
        source = await CallerSources(self.gateway, user).one(provider)
        as_of = datetime.now(UTC)
        try:
            record = await self._fetch(source, kind, change.native_id)
        except NotFound:  # deleted since: the webhook's news is stale
            report.add(await self._forget(user, provider, kind, record_id))
            return

        async def work(conn: Any) -> list[Change]:
            return await record_index.observe(conn, user.id, provider, kind, [record], as_of=as_of)

        report.add(await self._apply(user, provider, kind, work))

    async def _forget(self, user: User, provider: str, kind: Kind, record_id: str) -> list[Change]:
        async def work(conn: Any) -> list[Change]:
            return await record_index.forget(conn, user.id, provider, kind, record_id)

        return await self._apply(user, provider, kind, work)

    async def _fetch(self, source: Source, kind: Kind, native_id: str) -> Record:
        if kind == "activity":
            reader = capability(source.adapter, Operations.GET_ACTIVITY)
            return await reader.get_activity(source.credentials, native_id)
        tests = capability(source.adapter, Operations.GET_TEST)
        return await tests.get_test(source.credentials, native_id)
