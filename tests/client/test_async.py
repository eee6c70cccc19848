"""AsyncGatewayClient against the shared demo stack: the same answers as the sync client."""

from __future__ import annotations

import asyncio

import pandas
import pyarrow as pa
import pytest

from tests.gateway.conftest import RunningGateway
from training_gateway.gateway.client import (
    AsyncGatewayClient,
    GatewayClient,
    InvalidParameter,
    NotFound,
)
from training_gateway.models.activity import ActivityStatus


async def test_async_walks_get_and_frames_match_the_sync_client(
    readonly_gateway: RunningGateway, client: GatewayClient
) -> None:
    async with AsyncGatewayClient(readonly_gateway.url, api_key=readonly_gateway.key) as gateway:
        walked = [a async for a in gateway.iter_activities(limit=40)]
        assert [a.id for a in walked] == [a.id for a in client.iter_activities(limit=40)]
        assert len(walked) > 40

        ride = next(
            a
            for a in walked
            if a.sport.startswith("cycling") and a.status == ActivityStatus.COMPLETED
        )
        got, table, frame = await asyncio.gather(
            gateway.get_activity(ride.id),
            gateway.activity_data(ride.id, metrics="power"),
            gateway.activity_data(ride.id, metrics="power", output="pandas"),
        )
        assert got == client.get_activity(ride.id)
        assert isinstance(table, pa.Table) and isinstance(frame, pandas.DataFrame)
        assert table.column("power").to_pylist() == frame["power"].tolist()
        assert table.num_rows > 0

        curve = await gateway.longitudinal_mean_max(metric="heart_rate", durations=[60])
        assert (
            curve.points == client.longitudinal_mean_max(metric="heart_rate", durations=[60]).points
        )
        tests = [t async for t in gateway.iter_tests(limit=1)]
        assert [t.id for t in tests] == [t.id for t in client.iter_tests(limit=1)]


async def test_async_errors_are_the_same_typed_errors(readonly_gateway: RunningGateway) -> None:
    async with AsyncGatewayClient(readonly_gateway.url, api_key=readonly_gateway.key) as gateway:
        with pytest.raises(NotFound) as missing:
            await gateway.get_test("local:tst_missing")
        assert missing.value.status == 404
        with pytest.raises(InvalidParameter) as bad:
            await gateway.list_tests(limit=5000)
        assert (bad.value.status, bad.value.field) == (400, "limit")


async def test_async_backfill_status_streams_lines_until_the_gateway_closes(
    readonly_gateway: RunningGateway,
) -> None:
    async with AsyncGatewayClient(readonly_gateway.url, api_key=readonly_gateway.key) as gateway:
        lines = [line async for line in gateway.iter_backfill_status()]
    indexes = {(line.provider, line.index) for line in lines if line.index is not None}
    assert indexes == {(p, k) for p in ("astral", "sweatstack") for k in ("activity", "test")}
    assert any(line.backfill_loaded_until is not None for line in lines)
