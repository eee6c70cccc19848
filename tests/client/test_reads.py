"""GatewayClient against the shared demo stack: what it reads is what the API answers,
decoded into the server's own Structs."""

from __future__ import annotations

import sys
from datetime import date, timedelta

import httpx
import msgspec
import pandas
import pyarrow as pa
import pytest

from tests.gateway.conftest import RunningGateway
from training_gateway.adapters.base import ProviderInfo
from training_gateway.gateway.client import (
    GatewayClient,
    GatewayUnreachable,
    InvalidBody,
    InvalidParameter,
    MissingFrameLibrary,
    NotFound,
    Unauthorized,
)
from training_gateway.gateway.client.frames import SEGMENTED_BY_KEY
from training_gateway.gateway.wire import (
    ActivityPage,
    ConnectionView,
    LabTestDetails,
    LongitudinalCurve,
)
from training_gateway.models.activity import Activity, ActivityStatus
from training_gateway.models.lab_test import LabTest


def _recorded_ride(client: GatewayClient) -> Activity:
    return next(
        a
        for a in client.iter_activities(sport="cycling", limit=100)
        if a.status == ActivityStatus.COMPLETED and a.provider == "sweatstack"
    )


def test_iter_activities_walks_every_page_once_newest_first(
    client: GatewayClient, readonly_api: httpx.Client
) -> None:
    walked = list(client.iter_activities(limit=25))
    everything = readonly_api.get("/v1/activities", params={"limit": 1000}).json()
    assert everything["next_cursor"] is None
    assert len(walked) > 25  # more than one page
    assert [a.id for a in walked] == [a["id"] for a in everything["items"]]
    assert [a.start for a in walked] == sorted((a.start for a in walked), reverse=True)
    assert all(isinstance(a, Activity) for a in walked)


def test_list_activities_is_one_page_with_its_cursor(client: GatewayClient) -> None:
    first = client.list_activities(limit=3, provider="astral")
    assert isinstance(first, ActivityPage)
    assert len(first.items) == 3 and first.next_cursor is not None and first.errors == []
    second = client.list_activities(limit=3, provider="astral", cursor=first.next_cursor)
    assert not {a.id for a in first.items} & {a.id for a in second.items}
    assert {a.provider for a in first.items + second.items} == {"astral"}


def test_get_activity_decodes_the_struct_the_server_sends(
    client: GatewayClient, readonly_api: httpx.Client
) -> None:
    listed = client.list_activities(limit=1, provider="sweatstack").items[0]
    got = client.get_activity(listed.id)
    raw = readonly_api.get(f"/v1/activities/{listed.id}")
    assert got == msgspec.json.decode(raw.content, type=Activity)
    assert got.id == listed.id and got.start == listed.start


def test_activity_data_is_a_pyarrow_table_by_default(
    client: GatewayClient, readonly_api: httpx.Client
) -> None:
    ride = _recorded_ride(client)
    table = client.activity_data(ride.id, metrics=["power", "heart_rate"])
    assert isinstance(table, pa.Table)
    columnar = readonly_api.get(
        f"/v1/activities/{ride.id}/data",
        params={"metrics": "power,heart_rate"},
        headers={"Accept": "application/json"},
    ).json()
    assert table.column_names == columnar["columns"]
    assert table.column("power").to_pylist() == columnar["data"]["power"]
    assert pa.types.is_timestamp(table.schema.field("timestamp").type)


def test_activity_data_as_pandas_keeps_who_segmented_it(client: GatewayClient) -> None:
    ride = _recorded_ride(client)
    frame = client.activity_data(ride.id, output="pandas", segmentation_on="power")
    table = client.activity_data(ride.id, segmentation_on="power")
    assert isinstance(frame, pandas.DataFrame)
    assert len(frame) == table.num_rows > 0
    assert list(frame.columns) == table.column_names
    assert frame.attrs["segmented_by"] == table.schema.metadata[SEGMENTED_BY_KEY].decode()
    assert frame.attrs["segmented_by"] in ("sweatstack", "gateway")
    whole = client.activity_data(ride.id, metrics="power")
    assert table.num_rows < whole.num_rows


def test_a_frame_library_that_is_missing_is_named(
    client: GatewayClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ride = _recorded_ride(client)
    monkeypatch.setitem(sys.modules, "polars", None)  # as if not installed
    with pytest.raises(MissingFrameLibrary, match="pip install polars"):
        client.activity_data(ride.id, output="polars")
    with pytest.raises(ValueError, match="output must be one of pyarrow, pandas, polars"):
        client.activity_data(ride.id, output="excel")  # type: ignore[call-overload]


def test_activity_mean_max_is_the_servers_curve(client: GatewayClient) -> None:
    ride = _recorded_ride(client)
    curve = client.activity_mean_max(ride.id, metric="power", durations=[5, 60, 300])
    assert curve.activity_id == ride.id and curve.metric == "power"
    assert [p.duration_s for p in curve.points] == [5, 60, 300]
    values = [p.value for p in curve.points]
    assert values == sorted(values, reverse=True) and values[-1] > 0


def test_longitudinal_mean_max_attributes_each_point_to_an_activity(
    client: GatewayClient, readonly_api: httpx.Client
) -> None:
    curve = client.longitudinal_mean_max(metric="power", sport="cycling", durations=[60, 600])
    assert isinstance(curve, LongitudinalCurve)
    raw = readonly_api.get(
        "/v1/activities/longitudinal-mean-max",
        params={"metric": "power", "sport": "cycling", "durations": "60,600"},
    )
    served = msgspec.json.decode(raw.content, type=LongitudinalCurve)
    assert (curve.points, curve.activities, curve.by) == (
        served.points,
        served.activities,
        served.by,
    )
    assert curve.points and curve.errors == []
    for point in curve.points:
        owner = client.get_activity(point.activity_id)
        assert owner.provider == point.provider and owner.sport.startswith("cycling")


def test_longitudinal_data_stacks_every_matching_activity(client: GatewayClient) -> None:
    since = date.today() - timedelta(days=14)
    rides = [
        a.id
        for a in client.iter_activities(sport="cycling", start=since, status="completed")
        if a.provider != "local"
    ]
    data = client.longitudinal_data(sport="cycling", start=since, metrics="power")
    assert data.errors == []
    assert set(data.frame.column("activity_id").to_pylist()) == set(rides)
    assert {"activity_id", "provider", "sport", "power"} <= set(data.frame.column_names)


def test_lab_tests_walk_and_get_with_the_etag_the_server_gives(
    client: GatewayClient, readonly_api: httpx.Client
) -> None:
    tests = list(client.iter_tests(limit=1))
    assert len(tests) >= 2 and all(isinstance(t, LabTest) for t in tests)
    assert len({t.id for t in tests}) == len(tests)
    details = client.get_test(tests[0].id)
    assert isinstance(details, LabTestDetails) and details.id == tests[0].id
    again, version = client.get_test_with_etag(tests[0].id)
    assert again == details
    assert readonly_api.get(f"/v1/tests/{tests[0].id}").headers["etag"] == version


def test_providers_connections_dailies_traces_and_the_service(client: GatewayClient) -> None:
    providers = client.list_providers()
    assert all(isinstance(p, ProviderInfo) for p in providers)
    assert {p.name: p.connected for p in providers} == {
        "astral": True,
        "local": True,
        "sweatstack": True,
    }
    connections = client.list_connections()
    assert all(isinstance(c, ConnectionView) for c in connections)
    assert {c.provider: c.status for c in connections} == {
        "astral": "active",
        "sweatstack": "active",
    }
    dailies = client.list_dailies(start=date.today() - timedelta(days=30), end=date.today())
    assert dailies.errors == [] and all(d.id.count(":") == 2 for d in dailies.items)
    assert client.list_traces().errors == []
    assert client.health().status == "ok"
    assert client.index().api == "/v1"


def test_a_missing_activity_is_not_found(client: GatewayClient) -> None:
    with pytest.raises(NotFound) as raised:
        client.get_activity("astral:act_doesnotexist")
    error = raised.value
    assert error.status == 404 and error.problem is not None
    assert error.problem.instance == "/v1/activities/astral:act_doesnotexist"
    assert error.detail and "act_doesnotexist" in error.detail


def test_a_bad_query_parameter_is_an_invalid_parameter_naming_it(client: GatewayClient) -> None:
    with pytest.raises(InvalidParameter) as raised:
        client.list_activities(limit=0)
    assert raised.value.status == 400 and raised.value.field == "limit"
    assert raised.value.title == "Invalid query parameter"


def test_a_bad_body_is_an_invalid_body_naming_the_field(client: GatewayClient) -> None:
    activity = client.list_activities(limit=1, provider="astral").items[0]
    with pytest.raises(InvalidBody) as raised:
        client.patch_activity(activity.id, {"distance_m": "far"})
    assert raised.value.status == 422 and raised.value.field == "distance_m"


def test_an_unknown_key_is_unauthorized(readonly_gateway: RunningGateway) -> None:
    with GatewayClient(readonly_gateway.url, api_key="gw_not_a_key") as stranger:
        with pytest.raises(Unauthorized) as raised:
            stranger.list_activities()
    assert raised.value.status == 401


def test_no_gateway_listening_is_unreachable() -> None:
    from training_gateway.adapters._mock.server import free_loopback_port

    with GatewayClient(f"http://127.0.0.1:{free_loopback_port()}", api_key="k") as nowhere:
        with pytest.raises(GatewayUnreachable) as raised:
            nowhere.health()
    assert raised.value.status is None and "ConnectError" in (raised.value.detail or "")
