"""The sender of deliveries, on SQLite and PostgreSQL, against a receiver on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from tests.webhook_receiver import Answer, WebhookReceiver
from training_gateway.adapters._mock.server import MockServer
from training_gateway.gateway.jobs import Jobs
from training_gateway.gateway.services.events import EndpointRequest, Events, Sender
from training_gateway.gateway.settings import load_settings
from training_gateway.gateway.storage import Store
from training_gateway.gateway.storage.erasure import erase_user
from training_gateway.gateway.storage.tables import deliveries, delivery_attempts


async def _count(store: Store, table: object) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def test_a_delivery_deleted_while_it_is_sent_ends_without_error_or_retry(
    store: Store, tmp_path: Path
) -> None:
    receiver = WebhookReceiver()
    # The receiver holds the delivery long enough for its user to leave meanwhile.
    receiver.answer_next(Answer(status=500, delay_s=1.0))
    server = MockServer(receiver).start()
    events = Events(store, Jobs(load_settings({}, data_dir=tmp_path)), allow_private_targets=True)
    sender = Sender(events, retry_scale=1.0)
    try:
        await events.create_endpoint(EndpointRequest(url=server.url + "/hooks"))
        user = await store.create_user("leaver")
        async with store.engine.begin() as conn:
            _, (delivery_id,) = await events.record(
                conn, "test.created", user_id=user.id, provider="local", resource_id="t1"
            )
        sending = asyncio.create_task(sender.attempt_many("deliver-1", [(delivery_id, 1)]))
        await asyncio.to_thread(receiver.wait_for, 1)
        async with store.engine.begin() as conn:
            erased = await erase_user(conn, user.id)
        assert erased is not None and erased[0].events == 1

        # The attempt in flight finds its delivery gone: nothing to record, nothing to retry.
        assert await sending == []
        assert await _count(store, deliveries) == 0
        assert await _count(store, delivery_attempts) == 0
        # A job still holding the next attempt ends the same way.
        assert await sender.attempt_many("deliver-2", [(delivery_id, 2)]) == []
        assert len(receiver.received) == 1
    finally:
        await sender.aclose()
        server.stop()
