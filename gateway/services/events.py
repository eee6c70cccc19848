"""Unified events out: the apps' webhook endpoints, the events the gateway emits, and their
deliveries, signed as Standard Webhooks (https://www.standardwebhooks.com/).

An event is written once (`events`), with one delivery per endpoint that wants its type
(`deliveries`, whose id is the `webhook-id` a receiver deduplicates by, stable across
retries), and a delivery job is enqueued for each. A worker sends it on the schedule
RETRY_SCHEDULE_S; every attempt is kept (`delivery_attempts`) for the delivery log.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import secrets
import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from standardwebhooks import Webhook

from training_gateway.gateway.jobs import DELIVERY_QUEUE, Jobs
from training_gateway.gateway.observability import Metrics
from training_gateway.gateway.storage import Store
from training_gateway.gateway.storage.tables import (
    deliveries,
    delivery_attempts,
    events,
    webhook_endpoints,
)
from training_gateway.gateway.wire import EVENT_TYPES as EVENT_TYPES
from training_gateway.gateway.wire import Delivery as Delivery
from training_gateway.gateway.wire import DeliveryAttempt as DeliveryAttempt
from training_gateway.gateway.wire import DeliveryPage as DeliveryPage
from training_gateway.gateway.wire import Endpoint as Endpoint
from training_gateway.gateway.wire import EndpointRequest as EndpointRequest
from training_gateway.gateway.wire import EndpointWithSecret as EndpointWithSecret
from training_gateway.gateway.wire import EventBody as EventBody
from training_gateway.gateway.wire import EventData as EventData
from training_gateway.gateway.wire import EventType as EventType
from training_gateway.models.errors import Conflict, InvalidInput, NotFound

# When each attempt is made, counted from the one before: immediately, then 5 s, 5 min,
# 30 min, 2 h, 5 h, 10 h and 10 h.
RETRY_SCHEDULE_S: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
# An endpoint failing this long is disabled (and an endpoint.disabled event says so).
DISABLE_AFTER_S = 5 * 86400
# How long a rotated-out secret still signs, so receivers can switch.
SECRET_GRACE_S = 24 * 3600
# A receiver's answer is read no further than this, and waited for no longer than that.
MAX_RESPONSE_BYTES = 4096
DELIVERY_TIMEOUT_S = 10.0
# A delivery claimed this long ago by a job that never recorded its outcome is released.
STALE_CLAIM_S = 600.0
# Deliveries a worker sends at once to one receiving origin (the others wait their turn,
# not counted in their timeout), each origin with a pool of its own: an httpx pool's every
# request costs more with each connection it holds (one pool of 64 sent ~220 a second on
# loopback, eight of 8 ~700), and a hanging receiver holds up no other.
MAX_SENDING_PER_ORIGIN = 8


def new_id(prefix: str) -> str:
    return f"{prefix}_{int(time.time() * 1000):013x}{secrets.token_hex(8)}"


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def check_target(url: str, *, allow_private: bool) -> None:
    """A webhook target must be http(s), and (outside demo mode) not reach loopback, private,
    link-local or reserved addresses; InvalidInput naming `url` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url", "a webhook URL must be an absolute http(s) URL")
    if parts.username or parts.password:
        raise InvalidInput("url", "a webhook URL must not carry credentials")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        raise InvalidInput("url", f"{parts.hostname!r} does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise InvalidInput(
                "url", f"{parts.hostname!r} resolves to {address}, which is not a public address"
            )


class DeliveryState(msgspec.Struct, kw_only=True):
    """Where one delivery of an event stands (for `gateway events tail`)."""

    id: str
    endpoint_id: str
    status: str
    attempts: int
    last_status_code: int | None = None


class EventLogEntry(msgspec.Struct, kw_only=True):
    """An event as recorded, with its deliveries' states so far."""

    id: str
    type: str
    occurred_at: datetime
    provider: str | None
    resource_id: str | None
    user_id: str | None
    deliveries: list[DeliveryState]


class Events:
    """Emitting events and managing the endpoints that receive them."""

    def __init__(self, store: Store, jobs: Jobs, *, allow_private_targets: bool) -> None:
        self.store = store
        self.jobs = jobs
        self.allow_private_targets = allow_private_targets

    # emitting

    async def emit(
        self,
        type_: str,
        *,
        user_id: str | None,
        provider: str | None,
        resource_id: str | None,
        resource: Any = None,
        only_endpoint: str | None = None,
        user_name: str | None = None,
    ) -> str:
        """Record an event and its deliveries, then hand them to the engine; the event's id."""
        async with self.store.engine.begin() as conn:
            event_id, delivery_ids = await self.record(
                conn,
                type_,
                user_id=user_id,
                user_name=user_name,
                provider=provider,
                resource_id=resource_id,
                resource=resource,
                only_endpoint=only_endpoint,
            )
        await self.dispatch(delivery_ids)
        return event_id

    async def record(
        self,
        conn: AsyncConnection,
        type_: str,
        *,
        user_id: str | None,
        provider: str | None,
        resource_id: str | None,
        resource: Any = None,
        only_endpoint: str | None = None,
        user_name: str | None = None,
    ) -> tuple[str, list[str]]:
        """Write an event and a delivery to every enabled endpoint that wants its type, in the
        caller's transaction (so the change it reports and the event commit together); its id
        and the deliveries' ids, for `dispatch` once the transaction has committed."""
        event_id = new_id("evt")
        body = EventBody(
            type=type_,
            timestamp=_now(),
            data=EventData(id=resource_id, provider=provider, user=user_name, resource=resource),
        )
        await conn.execute(
            insert(events).values(
                id=event_id,
                type=type_,
                user_id=user_id,
                provider=provider,
                resource_id=resource_id,
                payload=msgspec.json.encode(body).decode(),
                occurred_at=body.timestamp,
            )
        )
        targets = await self._targets(conn, type_, only_endpoint)
        delivery_ids = [new_id("msg") for _ in targets]
        if targets:
            await conn.execute(
                insert(deliveries),
                [
                    {
                        "id": delivery_id,
                        "endpoint_id": endpoint_id,
                        "event_id": event_id,
                        "status": "pending",
                        "attempts": 0,
                        "schedule_offset": 0,
                        "next_attempt_at": body.timestamp,
                        "created_at": body.timestamp,
                    }
                    for delivery_id, endpoint_id in zip(delivery_ids, targets, strict=True)
                ],
            )
        return event_id, delivery_ids

    async def _targets(
        self, conn: AsyncConnection, type_: str, only_endpoint: str | None
    ) -> list[str]:
        query = select(webhook_endpoints.c.id, webhook_endpoints.c.event_types).where(
            webhook_endpoints.c.disabled_at.is_(None)
        )
        if only_endpoint is not None:
            return [
                row.id
                for row in await conn.execute(query.where(webhook_endpoints.c.id == only_endpoint))
            ]
        return [row.id for row in await conn.execute(query) if _wants(row.event_types, type_)]

    async def dispatch(self, delivery_ids: Sequence[str]) -> None:
        """Hand committed deliveries to the engine for their first attempt, a batch at a time
        (a delivery whose hand-over is lost to a crash is found by the sweeper)."""
        for delivery_id in delivery_ids:
            self.jobs.submit("deliver", DELIVERY_QUEUE, (delivery_id, 1))

    # endpoints

    async def create_endpoint(self, request: EndpointRequest) -> EndpointWithSecret:
        check_target(request.url, allow_private=self.allow_private_targets)
        types: list[str] = sorted(set(request.event_types)) if request.event_types else ["*"]
        secret = "whsec_" + _b64(secrets.token_bytes(24))
        endpoint_id = new_id("ep")
        created = _now()
        async with self.store.engine.begin() as conn:
            await conn.execute(
                insert(webhook_endpoints).values(
                    id=endpoint_id,
                    url=request.url,
                    description=request.description,
                    event_types=" ".join(types),
                    secret_enc=self.store.vault.encrypt(secret),
                    created_at=created,
                )
            )
        return EndpointWithSecret(
            id=endpoint_id,
            url=request.url,
            event_types=types,
            description=request.description,
            created_at=created,
            secret=secret,
        )

    async def endpoints(self) -> list[Endpoint]:
        async with self.store.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(webhook_endpoints).order_by(webhook_endpoints.c.created_at)
                )
            ).all()
        return [_endpoint(row) for row in rows]

    async def endpoint(self, endpoint_id: str) -> Endpoint:
        async with self.store.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
                )
            ).first()
        if row is None:
            raise NotFound(f"no webhook endpoint {endpoint_id!r}")
        return _endpoint(row)

    async def delete_endpoint(self, endpoint_id: str) -> None:
        async with self.store.engine.begin() as conn:
            result = await conn.execute(
                delete(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
            )
        if not result.rowcount:
            raise NotFound(f"no webhook endpoint {endpoint_id!r}")

    async def rotate_secret(self, endpoint_id: str) -> EndpointWithSecret:
        """A new secret signs from now on; the old one signs too for SECRET_GRACE_S."""
        endpoint = await self.endpoint(endpoint_id)
        secret = "whsec_" + _b64(secrets.token_bytes(24))
        async with self.store.engine.begin() as conn:
            row = (
                await conn.execute(
                    select(webhook_endpoints.c.secret_enc).where(
                        webhook_endpoints.c.id == endpoint_id
                    )
                )
            ).one()
            await conn.execute(
                update(webhook_endpoints)
                .where(webhook_endpoints.c.id == endpoint_id)
                .values(
                    secret_enc=self.store.vault.encrypt(secret),
                    previous_secret_enc=row.secret_enc,
                    previous_secret_until=_now() + timedelta(seconds=SECRET_GRACE_S),
                )
            )
        fields = {f: getattr(endpoint, f) for f in Endpoint.__struct_fields__}
        return EndpointWithSecret(**fields, secret=secret)

    async def signing_secrets(self, endpoint_id: str) -> list[str]:
        """The secrets that sign the endpoint's deliveries now: current, and a rotated-out one
        within its grace period."""
        found = await self.signing_secrets_of({endpoint_id})
        if endpoint_id not in found:
            raise NotFound(f"no webhook endpoint {endpoint_id!r}")
        return found[endpoint_id]

    async def signing_secrets_of(self, endpoint_ids: set[str]) -> dict[str, list[str]]:
        """`signing_secrets` of each endpoint, read at once (those that exist)."""
        if not endpoint_ids:
            return {}
        async with self.store.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        webhook_endpoints.c.id,
                        webhook_endpoints.c.secret_enc,
                        webhook_endpoints.c.previous_secret_enc,
                        webhook_endpoints.c.previous_secret_until,
                    ).where(webhook_endpoints.c.id.in_(sorted(endpoint_ids)))
                )
            ).all()
        now = _now()
        found: dict[str, list[str]] = {}
        for row in rows:
            signing = found[row.id] = [self.store.vault.decrypt(row.secret_enc)]
            until = _aware(row.previous_secret_until)
            if row.previous_secret_enc and until is not None and until > now:
                signing.append(self.store.vault.decrypt(row.previous_secret_enc))
        return found

    async def enable_endpoint(self, endpoint_id: str) -> Endpoint:
        """Take a disabled endpoint back: deliveries to it start again with new events."""
        await self.endpoint(endpoint_id)
        async with self.store.engine.begin() as conn:
            await conn.execute(
                update(webhook_endpoints)
                .where(webhook_endpoints.c.id == endpoint_id)
                .values(disabled_at=None, disabled_reason=None, failing_since=None)
            )
        return await self.endpoint(endpoint_id)

    async def send_test(self, endpoint_id: str) -> str:
        """A webhook.test event to this endpoint alone; the id of its delivery."""
        endpoint = await self.endpoint(endpoint_id)
        if endpoint.disabled_at is not None:
            raise Conflict(
                f"webhook endpoint {endpoint_id!r} is disabled ({endpoint.disabled_reason}); "
                f"enable it first: POST /v1/webhooks/{endpoint_id}/enable"
            )
        event_id = await self.emit(
            "webhook.test",
            user_id=None,
            provider=None,
            resource_id=None,
            resource={"endpoint": endpoint_id},
            only_endpoint=endpoint_id,
        )
        async with self.store.engine.connect() as conn:
            delivery_id: str = (
                await conn.execute(select(deliveries.c.id).where(deliveries.c.event_id == event_id))
            ).scalar_one()
        return delivery_id

    # the delivery log

    async def deliveries(
        self,
        endpoint_id: str,
        *,
        limit: int = 50,
        status: str | None = None,
        delivery_id: str | None = None,
    ) -> list[Delivery]:
        await self.endpoint(endpoint_id)
        query = (
            select(deliveries, events.c.type)
            .join(events, events.c.id == deliveries.c.event_id)
            .where(deliveries.c.endpoint_id == endpoint_id)
            .order_by(deliveries.c.created_at.desc(), deliveries.c.id.desc())
            .limit(limit)
        )
        if status is not None:
            query = query.where(deliveries.c.status == status)
        if delivery_id is not None:
            query = query.where(deliveries.c.id == delivery_id)
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            ids = [row.id for row in rows]
            attempts = (
                await conn.execute(
                    select(delivery_attempts)
                    .where(delivery_attempts.c.delivery_id.in_(ids))
                    .order_by(delivery_attempts.c.seq)
                )
            ).all()
        log: dict[str, list[DeliveryAttempt]] = {}
        for attempt in attempts:
            log.setdefault(attempt.delivery_id, []).append(
                DeliveryAttempt(
                    attempt=attempt.attempt,
                    at=_aware(attempt.at) or _now(),
                    status_code=attempt.status_code,
                    latency_ms=attempt.latency_ms,
                    error=attempt.error,
                )
            )
        return [_delivery(row, log.get(row.id, [])) for row in rows]

    async def log(
        self, *, since: datetime, user_id: str | None = None, limit: int = 100
    ) -> list[EventLogEntry]:
        """The first `limit` events at or after `since` (oldest first), with their deliveries."""
        query = select(events).where(events.c.occurred_at >= since)
        if user_id is not None:
            query = query.where(events.c.user_id == user_id)
        query = query.order_by(events.c.occurred_at, events.c.id).limit(limit)
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            states = (
                await conn.execute(
                    select(deliveries)
                    .where(deliveries.c.event_id.in_([row.id for row in rows]))
                    .order_by(deliveries.c.created_at, deliveries.c.id)
                )
            ).all()
        by_event: dict[str, list[DeliveryState]] = {}
        for state in states:
            by_event.setdefault(state.event_id, []).append(
                DeliveryState(
                    id=state.id,
                    endpoint_id=state.endpoint_id,
                    status=state.status,
                    attempts=state.attempts,
                    last_status_code=state.last_status_code,
                )
            )
        return [
            EventLogEntry(
                id=row.id,
                type=row.type,
                occurred_at=_aware(row.occurred_at) or _now(),
                provider=row.provider,
                resource_id=row.resource_id,
                user_id=row.user_id,
                deliveries=by_event.get(row.id, []),
            )
            for row in rows
        ]

    async def delivery(self, endpoint_id: str, delivery_id: str) -> Delivery:
        for found in await self.deliveries(endpoint_id, limit=1, delivery_id=delivery_id):
            return found
        raise NotFound(f"no delivery {delivery_id!r} to endpoint {endpoint_id!r}")

    async def redeliver(self, endpoint_id: str, delivery_id: str) -> Delivery:
        """Send a delivery again now, on a fresh schedule, with the same webhook-id."""
        found = await self.delivery(endpoint_id, delivery_id)
        async with self.store.engine.begin() as conn:
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(
                    status="pending",
                    next_attempt_at=_now(),
                    schedule_offset=deliveries.c.attempts,
                    claimed_by=None,
                    claimed_at=None,
                )
            )
        await self.jobs.enqueue(
            "deliver",
            DELIVERY_QUEUE,
            f"deliver-{delivery_id}-r{found.attempts + 1}-{secrets.token_hex(4)}",
            [(delivery_id, found.attempts + 1)],
        )
        return await self.delivery(endpoint_id, delivery_id)

    async def overdue(self, older_than_s: float) -> list[tuple[str, int]]:
        """Deliveries whose next attempt is overdue by `older_than_s` and that no job holds:
        a crash between recording a delivery and handing it over loses the hand-over, so the
        sweeper hands these over again (a job's claim makes a second hand-over harmless).
        A claim older than STALE_CLAIM_S belongs to a job that failed for good: released."""
        now = _now()
        cutoff = now - timedelta(seconds=older_than_s)
        async with self.store.engine.begin() as conn:
            await conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.status == "pending",
                    deliveries.c.claimed_at < now - timedelta(seconds=STALE_CLAIM_S),
                )
                .values(
                    claimed_by=None,
                    claimed_at=None,
                    attempts=deliveries.c.attempts - 1,
                )
            )
            query = select(deliveries.c.id, deliveries.c.attempts).where(
                deliveries.c.status == "pending",
                deliveries.c.claimed_by.is_(None),
                deliveries.c.next_attempt_at < cutoff,
            )
            return [(row.id, row.attempts + 1) for row in await conn.execute(query)]


class Outcome(msgspec.Struct, kw_only=True, array_like=True):
    """What one attempt came to, as the delivery job records it: `retry_in_s` is set when
    another attempt is due, `give_up` when the schedule is spent."""

    delivery_id: str
    attempt: int
    delivered: bool = False
    retry_in_s: float | None = None
    give_up: bool = False


class _Claimed(msgspec.Struct, kw_only=True):
    id: str
    attempt: int
    url: str
    endpoint_id: str
    payload: str
    schedule_offset: int


class Sender:
    """Sending deliveries: a batch of attempts at once, as a delivery job asks."""

    def __init__(
        self,
        events_: Events,
        *,
        retry_scale: float,
        timeout_s: float = DELIVERY_TIMEOUT_S,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics or Metrics()
        self.events = events_
        self.store = events_.store
        self.retry_scale = retry_scale
        self.timeout_s = timeout_s
        self._sqlite_turn = asyncio.Lock() if self.store.engine.dialect.name == "sqlite" else None
        self._origins: dict[str, tuple[httpx.AsyncClient, asyncio.Semaphore]] = {}

    def _origin(self, url: str) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        """The HTTP client and the turns of the origin (scheme, host and port) of `url`."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        found = self._origins.get(origin)
        if found is None:
            client = httpx.AsyncClient(
                timeout=self.timeout_s,
                follow_redirects=False,
                trust_env=False,
                limits=httpx.Limits(
                    max_connections=MAX_SENDING_PER_ORIGIN,
                    max_keepalive_connections=MAX_SENDING_PER_ORIGIN,
                ),
            )
            found = self._origins[origin] = (client, asyncio.Semaphore(MAX_SENDING_PER_ORIGIN))
        return found

    async def aclose(self) -> None:
        origins, self._origins = self._origins, {}
        for client, _ in origins.values():
            await client.aclose()

    def delay_before(self, attempt_in_schedule: int) -> float:
        """Seconds to wait before attempt `attempt_in_schedule` of a schedule (1 is the
        first)."""
        return RETRY_SCHEDULE_S[attempt_in_schedule - 1] * self.retry_scale

    async def attempt_many(self, job_id: str, wanted: Sequence[tuple[str, int]]) -> list[Outcome]:
        """Make attempt `n` of each `(delivery, n)` in `wanted`, concurrently, and record
        each outcome. A delivery is claimed first, so that of two jobs holding the same
        attempt (a redelivery, the sweeper) one sends it; the job that claimed it may claim
        it again when it is re-run after a crash, as its result was never recorded."""
        claimed = await self._claim(job_id, wanted)
        by_endpoint = await self.events.signing_secrets_of({item.endpoint_id for item in claimed})
        claimed = [item for item in claimed if item.endpoint_id in by_endpoint]  # not deleted
        results = await asyncio.gather(
            *(
                self._post(item.url, item.id, by_endpoint[item.endpoint_id], item.payload)
                for item in claimed
            )
        )
        return await self._record(claimed, results)

    def _writing(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """Held around the sender's write transactions on SQLite, where one writer at a time
        writes anyway: the jobs of this process then take turns here rather than retrying
        the database's lock, which backs off for up to 100 ms a try."""
        return self._sqlite_turn if self._sqlite_turn is not None else contextlib.nullcontext()

    async def _claim(self, job_id: str, wanted: Sequence[tuple[str, int]]) -> list[_Claimed]:
        expected = dict(wanted)
        disabled: list[str] = []
        mine: set[str] = set()
        free: dict[int, list[str]] = {}  # attempt number: deliveries to claim for it
        async with self._writing(), self.store.engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(
                        deliveries,
                        webhook_endpoints.c.url,
                        webhook_endpoints.c.disabled_at,
                        events.c.payload,
                    )
                    .join(webhook_endpoints, webhook_endpoints.c.id == deliveries.c.endpoint_id)
                    .join(events, events.c.id == deliveries.c.event_id)
                    .where(deliveries.c.id.in_(list(expected)))
                )
            ).all()
            for row in rows:
                attempt = expected[row.id]
                if row.status != "pending":
                    continue
                if row.disabled_at is not None:
                    disabled.append(row.id)
                elif row.claimed_by == job_id and row.attempts == attempt:
                    mine.add(row.id)
                else:
                    free.setdefault(attempt, []).append(row.id)
            if disabled:
                await conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id.in_(disabled))
                    .values(
                        status="failed", next_attempt_at=None, last_error="the endpoint is disabled"
                    )
                )
            for attempt, ids in sorted(free.items()):
                # Of the deliveries no job holds and whose previous attempt is the last made:
                # another job holds the others, or they moved on.
                won = await conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.id.in_(ids),
                        deliveries.c.status == "pending",
                        deliveries.c.claimed_by.is_(None),
                        deliveries.c.attempts == attempt - 1,
                    )
                    .values(attempts=attempt, claimed_by=job_id, claimed_at=_now())
                    .returning(deliveries.c.id)
                )
                mine.update(won.scalars())
        return [
            _Claimed(
                id=row.id,
                attempt=expected[row.id],
                url=row.url,
                endpoint_id=row.endpoint_id,
                payload=row.payload,
                schedule_offset=row.schedule_offset,
            )
            for row in rows
            if row.id in mine
        ]

    async def _record(
        self, claimed: Sequence[_Claimed], results: Sequence[tuple[int | None, str | None, float]]
    ) -> list[Outcome]:
        """Record each attempt's outcome; the outcomes of the deliveries that still exist. A
        delivery deleted while it was being sent (its user left, its endpoint was removed)
        has nothing left to record, and is not tried again."""
        now = _now()
        planned: list[
            tuple[_Claimed, Outcome, dict[str, Any], tuple[int | None, str | None, float]]
        ]
        planned = []
        for item, result in zip(claimed, results, strict=True):
            status, error, latency_ms = result
            delivered = status is not None and 200 <= status < 300
            in_schedule = item.attempt - item.schedule_offset
            outcome = Outcome(delivery_id=item.id, attempt=item.attempt, delivered=delivered)
            if not delivered:
                if in_schedule < len(RETRY_SCHEDULE_S):
                    outcome.retry_in_s = self.delay_before(in_schedule + 1)
                else:
                    outcome.give_up = True
            change = {
                "b_id": item.id,
                "b_status": (
                    "delivered" if delivered else "failed" if outcome.give_up else "pending"
                ),
                "b_status_code": status,
                "b_latency_ms": latency_ms,
                "b_error": error,
                "b_next_attempt_at": (
                    now + timedelta(seconds=outcome.retry_in_s)
                    if outcome.retry_in_s is not None
                    else None
                ),
                "b_delivered_at": now if delivered else None,
            }
            planned.append((item, outcome, change, result))
        present: set[str] = set()
        if planned:
            async with self._writing(), self.store.engine.begin() as conn:
                # The update first: it locks the rows that are there (the write lock, on
                # SQLite), so none is deleted before its attempt is recorded; a row deleted
                # already is updated in no way, and read as gone below.
                await conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id == bindparam("b_id"))
                    .values(
                        status=bindparam("b_status"),
                        claimed_by=None,
                        claimed_at=None,
                        last_status_code=bindparam("b_status_code"),
                        last_latency_ms=bindparam("b_latency_ms"),
                        last_error=bindparam("b_error"),
                        next_attempt_at=bindparam("b_next_attempt_at"),
                        delivered_at=bindparam("b_delivered_at"),
                    ),
                    [change for _, _, change, _ in planned],
                )
                present = set(
                    (
                        await conn.execute(
                            select(deliveries.c.id).where(
                                deliveries.c.id.in_([item.id for item, _, _, _ in planned])
                            )
                        )
                    ).scalars()
                )
                attempts = [
                    {
                        "delivery_id": item.id,
                        "attempt": item.attempt,
                        "at": now,
                        "status_code": status,
                        "latency_ms": latency_ms,
                        "error": error,
                    }
                    for item, _, _, (status, error, latency_ms) in planned
                    if item.id in present
                ]
                if attempts:
                    await conn.execute(insert(delivery_attempts), attempts)
        outcomes: list[Outcome] = []
        failing: set[str] = set()
        working: set[str] = set()
        for item, outcome, _, (_, _, latency_ms) in planned:
            if item.id not in present:
                continue
            (working if outcome.delivered else failing).add(item.endpoint_id)
            self.metrics.webhook_deliveries.labels(
                "delivered" if outcome.delivered else "failed" if outcome.give_up else "retrying"
            ).inc()
            self.metrics.webhook_duration.observe(latency_ms / 1000)
            outcomes.append(outcome)
        failing -= working
        await self._mark_endpoints(working, failing, now)
        for endpoint_id in sorted(failing):
            await self._disable_if_failing_too_long(endpoint_id)
        return outcomes

    async def _mark_endpoints(self, working: set[str], failing: set[str], now: datetime) -> None:
        """An endpoint that took a delivery is no longer failing; one that took none of its
        deliveries is failing since now, unless it was already. Apart from the outcomes and
        only where the mark changes: every job would otherwise write the same few endpoint
        rows, and on PostgreSQL jobs locking them in different orders deadlock."""
        if not working and not failing:
            return
        async with self.store.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(webhook_endpoints.c.id, webhook_endpoints.c.failing_since).where(
                        webhook_endpoints.c.id.in_(sorted(working | failing))
                    )
                )
            ).all()
        changed = sorted(
            row.id
            for row in rows
            if (row.id in working) == (row.failing_since is not None)  # a mark to change
        )
        if not changed:
            return
        async with self._writing(), self.store.engine.begin() as conn:
            for endpoint_id in changed:  # in one order, so two jobs never wait on each other
                ok = endpoint_id in working
                await conn.execute(
                    update(webhook_endpoints)
                    .where(
                        webhook_endpoints.c.id == endpoint_id,
                        webhook_endpoints.c.failing_since.is_not(None)
                        if ok
                        else webhook_endpoints.c.failing_since.is_(None),
                    )
                    .values(failing_since=None if ok else now)
                )

    async def _disable_if_failing_too_long(self, endpoint_id: str) -> None:
        """An endpoint whose every delivery has failed for DISABLE_AFTER_S is disabled, and
        an endpoint.disabled event tells the other endpoints."""
        async with self._writing(), self.store.engine.begin() as conn:
            row = (
                await conn.execute(
                    select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
                )
            ).first()
            if row is None or row.disabled_at is not None or row.failing_since is None:
                return
            failing_for = (_now() - (_aware(row.failing_since) or _now())).total_seconds()
            if failing_for < DISABLE_AFTER_S * self.retry_scale:
                return
            reason = f"every delivery failed for {failing_for / 86400:.2f} days"
            disabled = await conn.execute(
                update(webhook_endpoints)
                .where(
                    webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.disabled_at.is_(None)
                )
                .values(disabled_at=_now(), disabled_reason=reason)
            )
            if disabled.rowcount != 1:
                return
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.endpoint_id == endpoint_id, deliveries.c.status == "pending")
                .values(
                    status="failed", next_attempt_at=None, last_error="the endpoint is disabled"
                )
            )
            _, delivery_ids = await self.events.record(
                conn,
                "endpoint.disabled",
                user_id=None,
                provider=None,
                resource_id=endpoint_id,
                resource={"id": endpoint_id, "url": row.url, "reason": reason},
            )
        await self.events.dispatch(delivery_ids)

    async def _post(
        self, url: str, delivery_id: str, signing_secrets: Sequence[str], payload: str
    ) -> tuple[int | None, str | None, float]:
        """POST the signed payload; (status, error, latency in ms). A receiver's body is read
        no further than MAX_RESPONSE_BYTES, and a hanging one costs one timeout."""
        try:
            check_target(url, allow_private=self.events.allow_private_targets)
        except InvalidInput as exc:
            return None, exc.detail, 0.0
        client, turns = self._origin(url)
        async with turns:  # the time spent waiting here is not the receiver's
            headers = signed_headers(signing_secrets, delivery_id, payload)
            began = time.perf_counter()
            try:
                async with asyncio.timeout(self.timeout_s):
                    async with client.stream(
                        "POST", url, content=payload.encode(), headers=headers
                    ) as response:
                        read = 0
                        async for chunk in response.aiter_raw():
                            read += len(chunk)
                            if read >= MAX_RESPONSE_BYTES:
                                break
                        status = response.status_code
            except (TimeoutError, httpx.TimeoutException):
                return None, f"no answer within {self.timeout_s:g} s", _ms(began)
            except httpx.HTTPError as exc:
                return None, f"could not deliver: {type(exc).__name__}", _ms(began)
        return status, None if 200 <= status < 300 else f"answered {status}", _ms(began)


def signed_headers(signing_secrets: Sequence[str], message_id: str, payload: str) -> dict[str, str]:
    """Standard Webhooks headers: webhook-id, webhook-timestamp and webhook-signature (one
    `v1,<base64>` per secret, space-separated, while a rotation's old secret still signs)."""
    moment = datetime.now(UTC)
    signatures = [Webhook(secret).sign(message_id, moment, payload) for secret in signing_secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": "training-gateway-webhooks",
    }


def _ms(began: float) -> float:
    return round((time.perf_counter() - began) * 1000, 2)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _wants(event_types: str, type_: str) -> bool:
    wanted = event_types.split()
    return "*" in wanted or type_ in wanted


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        id=row.id,
        url=row.url,
        event_types=row.event_types.split(),
        description=row.description,
        created_at=_aware(row.created_at) or _now(),
        failing_since=_aware(row.failing_since),
        disabled_at=_aware(row.disabled_at),
        disabled_reason=row.disabled_reason,
    )


def _delivery(row: Any, log: list[DeliveryAttempt]) -> Delivery:
    return Delivery(
        id=row.id,
        event_id=row.event_id,
        event_type=row.type,
        status=row.status,
        attempts=row.attempts,
        created_at=_aware(row.created_at) or _now(),
        next_attempt_at=_aware(row.next_attempt_at),
        delivered_at=_aware(row.delivered_at),
        last_status_code=row.last_status_code,
        last_latency_ms=row.last_latency_ms,
        last_error=row.last_error,
        attempt_log=log,
    )
