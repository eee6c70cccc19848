"""The SweatStack mock over real HTTP: seeding, filters, paging, errors, isolation, Parquet."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from open_sport_taxonomy import Sport

from training_gateway.adapters._mock import MockServer, TokenIssuer, serve_mock
from training_gateway.adapters._mock.base import MockProvider
from training_gateway.adapters._mock.registry import load_mock_factories
from training_gateway.adapters.sweatstack import wire
from training_gateway.adapters.sweatstack.client import decode_details, decode_summaries
from training_gateway.adapters.sweatstack.mock import StoredActivity, SweatStackMock
from training_gateway.models.mean_max import mean_max_reference

from .conftest import SEED, TODAY

LIST = "/api/v1/activities/"
ULID = "[0-9A-HJKMNP-TV-Z]{26}"


_HTTP = httpx.Client(timeout=10)  # one pool: a new client per request costs ~20 ms


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    _HTTP.close()


def _get(
    url: str, path: str, token: str | None, params: Any = None, **headers: str
) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return _HTTP.get(url + path, params=params, headers=headers)


def _list(url: str, token: str, params: Any = None) -> list[wire.ActivitySummary]:
    response = _get(url, LIST, token, params)
    assert response.status_code == 200, response.text
    return decode_summaries(response.content)


def _all(url: str, token: str, params: list[tuple[str, str]] | None = None) -> list[str]:
    return [item.id for item in _list(url, token, [*(params or []), ("limit", "10000")])]


@pytest.fixture(scope="module")
def scratch(issuer: TokenIssuer) -> Iterator[tuple[SweatStackMock, str]]:
    """A served mock that the tests of this module may add to (their additions do not overlap)."""
    mock = SweatStackMock(SEED, today=TODAY, tokens=issuer)
    with serve_mock(mock.asgi_app()) as server:
        yield mock, server.url


def _first(mock: SweatStackMock, sport: str) -> StoredActivity:
    return mock.activities_of(mock.default_user, sports=[Sport(sport)])[0]


# --- seeding ----------------------------------------------------------------------------


def test_same_seed_gives_the_same_state_and_the_same_json(
    shared_mock: SweatStackMock,
    shared_server: MockServer,
    make_mock: Callable[..., SweatStackMock],
) -> None:
    twin = make_mock()
    assert twin.user_ids == shared_mock.user_ids
    assert list(twin.activities) == list(shared_mock.activities)
    with serve_mock(twin.asgi_app()) as twin_server:
        ours = _get(shared_server.url, LIST, shared_mock.token_for(), {"limit": 5})
        theirs = _get(twin_server.url, LIST, twin.token_for(), {"limit": 5})
    assert ours.content == theirs.content


def test_another_seed_gives_another_history(
    shared_mock: SweatStackMock, make_mock: Callable[..., SweatStackMock]
) -> None:
    other = make_mock(seed=13)  # seed 12 would share the second athlete (history 12)
    assert set(other.user_ids).isdisjoint(shared_mock.user_ids)
    assert set(other.activities).isdisjoint(shared_mock.activities)


def test_the_mocks_entry_point_gives_a_mock_provider() -> None:
    mock = load_mock_factories()["sweatstack"](seed=5)
    assert isinstance(mock, SweatStackMock)
    assert isinstance(mock, MockProvider)
    assert mock.name == "sweatstack"


def test_ids_are_shaped_like_sweatstack_ids(shared_mock: SweatStackMock) -> None:
    assert all(re.fullmatch(f"usr_{ULID}", user) for user in shared_mock.user_ids)
    assert len(set(shared_mock.user_ids)) == 2
    for stored in shared_mock.activities.values():
        assert re.fullmatch(f"act_{ULID}", stored.id)
        assert re.fullmatch(f"src_{ULID}", stored.source_id)


def test_token_subject_is_the_user_id(shared_mock: SweatStackMock) -> None:
    claims = shared_mock.tokens.verify(shared_mock.token_for())
    assert claims["sub"] == shared_mock.default_user
    assert shared_mock.tokens.verify(shared_mock.token_for(shared_mock.other_user))["sub"] == (
        shared_mock.other_user
    )


# --- listing ----------------------------------------------------------------------------


def test_list_defaults_to_50_newest_first(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    items = _list(shared_server.url, shared_mock.token_for())
    assert len(items) == 50
    starts = [item.start for item in items]
    assert starts == sorted(starts, reverse=True)
    assert all(item.start.utcoffset() in (timedelta(hours=1), timedelta(hours=2)) for item in items)
    assert all(item.start_local == item.start.replace(tzinfo=None) for item in items)
    assert all(item.end - item.start == item.duration for item in items)


def test_list_answers_with_and_without_the_trailing_slash(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    token = shared_mock.token_for()
    with_slash = _get(shared_server.url, LIST, token, {"limit": 3})
    without = _get(shared_server.url, LIST.rstrip("/"), token, {"limit": 3})
    assert with_slash.status_code == without.status_code == 200
    assert with_slash.content == without.content


def test_paging_by_limit_and_offset_has_no_gaps_or_duplicates(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    token = shared_mock.token_for()
    everything = _all(shared_server.url, token)
    assert len(everything) > 60  # no hard cap: one request returns them all
    paged: list[str] = []
    for offset in range(0, len(everything) + 7, 7):
        paged += [
            item.id for item in _list(shared_server.url, token, {"limit": 7, "offset": offset})
        ]
    assert paged == everything
    assert _list(shared_server.url, token, {"offset": len(everything)}) == []


def test_date_filters_are_inclusive_local_dates(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    token = shared_mock.token_for()
    start, end = date(2026, 4, 10), date(2026, 4, 20)
    ids = _all(shared_server.url, token, [("start", start.isoformat()), ("end", end.isoformat())])
    expected = [
        stored.id
        for stored in shared_mock.activities_of(shared_mock.default_user)
        if start <= stored.start_local.date() <= end
    ]
    assert ids == expected and ids
    assert (
        _all(shared_server.url, token, [("start", (TODAY + timedelta(days=1)).isoformat())]) == []
    )


def test_date_filters_accept_a_full_datetime(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    stored = shared_mock.activities_of(shared_mock.default_user)[5]
    moment = stored.start.isoformat()
    ids = _all(shared_server.url, shared_mock.token_for(), [("start", moment), ("end", moment)])
    assert ids == [stored.id]


def test_parent_sport_matches_sub_sports(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    token = shared_mock.token_for()
    running = _list(shared_server.url, token, [("sport", "running"), ("limit", "1000")])
    assert {item.sport for item in running} >= {"running.road", "running.trail"}
    assert all(item.sport.startswith("running") for item in running)

    cycling = _list(shared_server.url, token, [("sport", "cycling"), ("limit", "1000")])
    assert "cycling+stationary" in {item.sport for item in cycling}

    road_only = _list(shared_server.url, token, [("sport", "running.road"), ("limit", "1000")])
    assert {item.sport for item in road_only} == {"running.road"}

    assert _list(shared_server.url, token, {"sport": "kitesurfing"}) == []  # unknown, well formed


def test_repeated_sport_and_legacy_comma_joined_sports_are_a_union(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    token = shared_mock.token_for()
    repeated = _all(shared_server.url, token, [("sport", "swimming"), ("sport", "walking")])
    legacy = _all(shared_server.url, token, [("sports", "swimming,walking")])
    swims = _all(shared_server.url, token, [("sport", "swimming")])
    walks = _all(shared_server.url, token, [("sport", "walking")])
    assert repeated == legacy
    assert sorted(repeated) == sorted(swims + walks)
    assert swims and walks


def test_repeated_tags_must_all_be_present(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    token = shared_mock.token_for()
    activities = shared_mock.activities_of(shared_mock.default_user)
    tagged = next(stored for stored in activities if len(stored.tags) >= 2)
    first, second = tagged.tags[:2]

    both = _list(shared_server.url, token, [("tags", first), ("tags", second), ("limit", "1000")])
    only_first = _all(shared_server.url, token, [("tags", first)])

    assert tagged.id in [item.id for item in both]
    assert all({first, second} <= set(item.tags or []) for item in both)
    assert len(only_first) > len(both)


def test_equal_start_times_are_ordered_by_id(
    scratch: tuple[SweatStackMock, str],
) -> None:
    mock, url = scratch
    start = datetime.fromisoformat(f"{TODAY + timedelta(days=1)}T07:00:00+02:00")
    ids = [
        "act_01KT00000000000000000000ZZ",
        "act_01KT0000000000000000000000",
        "act_01KT000000000000000000000M",
    ]
    for activity_id in ids:
        mock.add_activity(sport="rowing", start=start, duration_s=600, activity_id=activity_id)

    listed = _all(url, mock.token_for(), [("sport", "rowing")])

    assert listed == sorted(ids)
    assert _list(url, mock.token_for(), {"limit": 2, "offset": 1})[0].id == sorted(ids)[1]


# --- one activity -----------------------------------------------------------------------


def test_details_add_distance_and_devices_and_laps_cover_the_activity(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    stored = _first(shared_mock, "cycling.road")
    response = _get(shared_server.url, f"{LIST}{stored.id}", shared_mock.token_for())
    details = decode_details(response.content)

    duration_s = stored.session.duration_s
    assert details.id == stored.id
    assert details.devices
    assert details.summary is not None and details.summary.distance is not None
    assert details.distance == details.summary.distance.sum
    assert details.duration == timedelta(seconds=duration_s)
    assert len(details.laps or []) == math.ceil(duration_s / 600)
    assert sum((lap.duration for lap in details.laps or []), timedelta(0)) == details.duration
    lap_distance = sum(lap.distance.sum or 0 for lap in details.laps or [] if lap.distance)
    assert lap_distance == pytest.approx(details.distance, abs=1.0)
    assert response.json()["duration"].startswith("PT")


def test_summary_statistics_agree_with_the_time_series(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    stored = _first(shared_mock, "cycling")
    token = shared_mock.token_for()
    details = decode_details(_get(shared_server.url, f"{LIST}{stored.id}", token).content)
    table = _table(
        _get(shared_server.url, f"{LIST}{stored.id}/data", token, {"metrics": "power,heart_rate"})
    )

    power = table.column("power").to_numpy()
    heart_rate = table.column("heart_rate").to_numpy()
    assert details.summary is not None and details.summary.power and details.summary.heart_rate
    assert details.summary.power.mean == pytest.approx(power.mean(), abs=0.05)
    assert details.summary.power.max == power.max()
    assert details.summary.heart_rate.min == heart_rate.min()
    assert details.summary.heart_rate.start == heart_rate[0]
    assert details.summary.heart_rate.end == heart_rate[-1]


def test_latest_is_the_newest_activity_or_null(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    token = shared_mock.token_for()
    newest = _list(shared_server.url, token, {"limit": 1})[0]
    latest = _get(shared_server.url, f"{LIST}latest", token)
    assert decode_details(latest.content).id == newest.id

    newest_ride = _list(shared_server.url, token, {"sport": "cycling", "limit": 1})[0]
    latest_ride = _get(shared_server.url, f"{LIST}latest", token, {"sport": "cycling"})
    assert decode_details(latest_ride.content).id == newest_ride.id

    none = _get(shared_server.url, f"{LIST}latest", token, {"sport": "alpine_skiing"})
    assert none.status_code == 200 and none.content == b"null"


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [LIST, f"{LIST}latest", f"{LIST}act_x", f"{LIST}act_x/data"])
def test_missing_token_is_401(shared_server: MockServer, path: str) -> None:
    response = _get(shared_server.url, path, None)
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_bad_and_expired_tokens_are_401(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    expired = shared_mock.tokens.issue(shared_mock.default_user, ttl_s=-60)
    foreign = TokenIssuer("https://elsewhere.test").issue(shared_mock.default_user)
    for token in (expired, foreign, "not-a-jwt", shared_mock.token_for() + "x"):
        response = _get(shared_server.url, LIST, token)
        assert response.status_code == 401, token
        assert "detail" in response.json()


def test_unknown_activity_is_404(shared_mock: SweatStackMock, shared_server: MockServer) -> None:
    token = shared_mock.token_for()
    for path in (f"{LIST}act_unknown", f"{LIST}act_unknown/data"):
        response = _get(shared_server.url, path, token)
        assert response.status_code == 404
        assert "act_unknown" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        (LIST, {"limit": "ten"}, "limit"),
        (LIST, {"limit": "0"}, "limit"),
        (LIST, {"offset": "-1"}, "offset"),
        (LIST, {"start": "2026-13-01"}, "start"),
        (LIST, {"end": "yesterday"}, "end"),
        (LIST, {"sport": "Not A Sport!"}, "sport"),
        (LIST, {"sport": "cycling++road"}, "sport"),
        ("{data}", {"metrics": "power,watts"}, "metrics"),
        ("{data}", {"segmentation_on": "heart_rate"}, "segmentation_on"),
        ("{run_data}", {"segmentation_on": "power"}, "segmentation_on"),
        ("{mean_max}", {"metric": "power", "segmentation": "maybe"}, "segmentation"),
    ],
)
def test_bad_query_parameters_are_422_naming_the_parameter(
    shared_mock: SweatStackMock,
    shared_server: MockServer,
    path: str,
    params: dict[str, str],
    parameter: str,
) -> None:
    data = f"{LIST}{_first(shared_mock, 'cycling').id}/data"
    run_data = f"{LIST}{_first(shared_mock, 'running').id}/data"
    mean_max = data.removesuffix("/data") + "/mean-max"
    path = path.format(data=data, run_data=run_data, mean_max=mean_max)

    response = _get(shared_server.url, path, shared_mock.token_for(), params)

    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", parameter]
    assert error["msg"]


def test_all_bad_parameters_are_reported_at_once(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    params = {"limit": "x", "offset": "-3", "start": "nope"}
    response = _get(shared_server.url, LIST, shared_mock.token_for(), params)
    assert response.status_code == 422
    assert sorted(error["loc"][1] for error in response.json()["detail"]) == [
        "limit",
        "offset",
        "start",
    ]


def test_every_response_carries_a_request_id(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    ok = _get(shared_server.url, LIST, shared_mock.token_for(), {"limit": 1})
    unauthorized = _get(shared_server.url, LIST, None)
    unknown_route = _get(shared_server.url, "/api/v1/nowhere", shared_mock.token_for())
    echoed = _get(shared_server.url, LIST, None, **{"x-request-id": "req-from-caller"})

    assert unknown_route.status_code == 404 and unknown_route.json() == {"detail": "Not Found"}
    ids = [response.headers["x-request-id"] for response in (ok, unauthorized, unknown_route)]
    assert all(ids) and len(set(ids)) == 3
    assert echoed.headers["x-request-id"] == "req-from-caller"


def test_faults_can_be_injected(scratch: tuple[SweatStackMock, str]) -> None:
    mock, url = scratch
    token = mock.token_for()

    mock.faults.fail_next(503)
    failed = _get(url, LIST, token)
    mock.faults.garble_next()
    garbled = _get(url, LIST, token)
    healthy = _get(url, LIST, token)

    assert failed.status_code == 503 and failed.headers["x-request-id"]
    assert garbled.status_code == 200 and garbled.content.startswith(b'{"unexpected"')
    assert healthy.status_code == 200


# --- isolation --------------------------------------------------------------------------


def test_users_never_see_each_others_activities(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    mine_token = shared_mock.token_for()
    theirs_token = shared_mock.token_for(shared_mock.other_user)
    mine = _all(shared_server.url, mine_token)
    theirs = _all(shared_server.url, theirs_token)

    assert mine and theirs and set(mine).isdisjoint(theirs)
    for path in (f"{LIST}{theirs[0]}", f"{LIST}{theirs[0]}/data"):
        assert _get(shared_server.url, path, mine_token).status_code == 404
    latest = decode_details(_get(shared_server.url, f"{LIST}latest", theirs_token).content)
    assert latest.id == theirs[0]


def test_added_activities_belong_to_their_user(scratch: tuple[SweatStackMock, str]) -> None:
    mock, url = scratch
    start = datetime.fromisoformat(f"{TODAY}T23:00:00+02:00")
    added = mock.add_activity(
        sport="rowing+stationary", start=start, duration_s=900, user=mock.other_user, tags=["erg"]
    )

    assert _all(url, mock.token_for(mock.other_user), [("tags", "erg")]) == [added.id]
    assert _all(url, mock.token_for(), [("tags", "erg")]) == []


# --- time series ------------------------------------------------------------------------


def _table(response: httpx.Response) -> pa.Table:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    return pq.read_table(io.BytesIO(response.content))


def test_data_defaults_to_duration_power_speed_heart_rate(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    ride = _first(shared_mock, "cycling.road")
    table = _table(_get(shared_server.url, f"{LIST}{ride.id}/data", shared_mock.token_for()))

    assert table.column_names == [
        "timestamp",
        "timestamp_local",
        "duration",
        "power",
        "speed",
        "heart_rate",
    ]
    assert table.num_rows == ride.session.duration_s
    schema = table.schema
    assert schema.field("timestamp").type == pa.timestamp("ms", tz="UTC")  # Parquet has no "s"
    assert schema.field("timestamp_local").type.tz is None
    assert schema.field("duration").type == pa.duration("s")
    assert schema.field("power").type == pa.int16()
    assert schema.field("heart_rate").type == pa.int16()
    assert schema.field("speed").type == pa.float32()
    assert schema.metadata is None or b"pandas" not in schema.metadata

    first = table.slice(0, 1).to_pylist()[0]
    assert first["timestamp"] == ride.start
    assert first["timestamp_local"] == ride.start_local
    assert first["duration"] == timedelta(0)
    durations = table.column("duration").to_pylist()
    assert durations[-1] == timedelta(seconds=ride.session.duration_s - 1)


def test_data_has_only_the_metrics_the_activity_recorded(
    shared_mock: SweatStackMock, shared_server: MockServer
) -> None:
    run = _first(shared_mock, "running")
    path = f"{LIST}{run.id}/data"
    default = _table(_get(shared_server.url, path, shared_mock.token_for()))
    chosen = _table(
        _get(
            shared_server.url,
            path,
            shared_mock.token_for(),
            [("metrics", "heart_rate"), ("metrics", "altitude,power"), ("metrics", "latitude")],
        )
    )

    assert default.column_names == [
        "timestamp",
        "timestamp_local",
        "duration",
        "speed",
        "heart_rate",
    ]
    assert chosen.column_names == [
        "timestamp",
        "timestamp_local",
        "heart_rate",
        "altitude",
        "latitude",
    ]
    assert chosen.schema.field("latitude").type == pa.float64()


@pytest.mark.parametrize(("sport", "key"), [("cycling.road", "power"), ("running", "speed")])
def test_segmented_data_has_fewer_rows_covering_the_whole_activity(
    shared_mock: SweatStackMock, shared_server: MockServer, sport: str, key: str
) -> None:
    stored = _first(shared_mock, sport)
    path = f"{LIST}{stored.id}/data"
    params = {"segmentation_on": key, "metrics": f"duration,{key}"}
    table = _table(_get(shared_server.url, path, shared_mock.token_for(), params))
    again = _table(_get(shared_server.url, path, shared_mock.token_for(), params))

    durations = np.array([value.total_seconds() for value in table.column("duration").to_pylist()])
    assert table.equals(again)
    assert 20 <= stored.session.duration_s / table.num_rows <= 50  # AISC's promise
    assert durations.sum() == stored.session.duration_s
    assert (durations > 0).all()
    starts = table.column("timestamp").to_pylist()
    assert starts[0] == stored.start
    assert all(
        later - earlier == timedelta(seconds=length)
        for earlier, later, length in zip(starts, starts[1:], durations, strict=False)
    )
    weighted_mean = (table.column(key).to_numpy() * durations).sum() / durations.sum()
    assert weighted_mean == pytest.approx(stored.session.streams[key].mean(), rel=1e-4)


@pytest.mark.parametrize(("sport", "key"), [("cycling.road", "power"), ("running", "speed")])
def test_segmented_data_keeps_the_mean_max_curve_within_the_documented_bound(
    shared_mock: SweatStackMock, shared_server: MockServer, sport: str, key: str
) -> None:
    """docs/segmentation.md: at the series' mean level L, the curve of the segments is within
    min(0.6 L, 2 x 4 s x L / d) of the exact one (the mock's own curve), at every duration."""
    stored = _first(shared_mock, sport)
    token = shared_mock.token_for()
    path = f"{LIST}{stored.id}"
    params = {"segmentation_on": key, "metrics": f"duration,{key}"}
    segments = _table(_get(shared_server.url, f"{path}/data", token, params))
    exact = _table(
        _get(shared_server.url, f"{path}/mean-max", token, {"metric": key, "durations": "all"})
    )

    lengths = [int(value.total_seconds()) for value in segments.column("duration").to_pylist()]
    expanded = np.repeat(segments.column(key).to_numpy().astype(np.float64), lengths)
    durations = np.array([int(d.total_seconds()) for d in exact.column("duration").to_pylist()])
    coded, _ = mean_max_reference(expanded, durations)
    level = float(np.mean(np.abs(stored.session.streams[key])))
    bound = np.minimum(0.6 * level, 8.0 * level / durations)
    gap = np.abs(coded - exact.column(key).to_numpy())
    assert np.all(gap <= bound + 1e-4 * level)  # + float32 rounding of the wire's means
    assert gap[durations >= 60].max() <= 0.03 * level
