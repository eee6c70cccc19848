"""Curves by intensity over real HTTP, per activity and across providers, each row attributed;
and longitudinal curves asked of SweatStack (GATEWAY_PROVIDER_CURVES) giving the answer the
gateway computes itself."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import TODAY, RunningGateway, serve_gateway
from tests.gateway.routes.test_activities import assert_problem
from tests.gateway.routes.test_timeseries import recorded
from training_gateway.models.mean_max import warm_kernels

LONGITUDINAL = "/v1/activities/longitudinal-mean-max"
STEP = {"power": 1.0, "speed": 0.01}


def _check_intensity_rows(
    rows: list[dict[str, Any]], by_duration: list[dict[str, Any]], metric: str
) -> None:
    """`rows` is `by_duration` value-indexed: a row per step from the lowest level reached to
    the highest, each with the longest duration whose best reaches it and that point's
    attribution."""
    assert rows
    best = {p["duration_s"]: p for p in by_duration}
    step = STEP[metric]
    levels = [round(row["value"] / step) for row in rows]
    assert levels == list(range(levels[0], levels[-1] + 1))
    assert levels[-1] == int(max(p["value"] for p in by_duration) / step + 1e-9)
    for row in rows:
        reaching = [d for d, p in best.items() if p["value"] >= row["value"] - 1e-9]
        assert row["duration_s"] == max(reaching)
        point = best[row["duration_s"]]
        for key in ("start", "activity_id", "provider", "sport"):
            if key in point:
                assert row[key] == point[key], key


def test_an_activitys_curve_by_intensity(readonly_api: httpx.Client) -> None:
    for provider, sport, metric in (
        ("sweatstack", "cycling", "power"),
        ("astral", "running", "speed"),
    ):
        activity = recorded(readonly_api, provider, sport)
        path = f"/v1/activities/{activity['id']}/mean-max"
        params = {"metric": metric, "durations": "all"}
        by_duration = readonly_api.get(path, params=params).json()
        rows = readonly_api.get(path, params={**params, "by": "intensity"}).json()
        assert by_duration["by"] == "duration" and rows["by"] == "intensity"
        assert rows["source"] == by_duration["source"]
        _check_intensity_rows(rows["points"], by_duration["points"], metric)
    assert_problem(
        readonly_api.get(path, params={"metric": "speed", "by": "pace"}), 400, field="by"
    )


def test_the_longitudinal_curve_by_intensity_is_the_envelope_across_providers(
    readonly_api: httpx.Client,
) -> None:
    params = {"sport": "cycling", "metric": "power", "durations": "1,5,30,60,300,1200,3600"}
    by_duration = readonly_api.get(LONGITUDINAL, params={**params, "after": "0"}).json()
    legacy = readonly_api.get(LONGITUDINAL, params={**params, "after": "0", "by": "intensity"})
    plain = readonly_api.get(LONGITUDINAL, params=params).json()

    assert by_duration["by"] == "duration" and legacy.json()["by"] == plain["by"] == "intensity"
    assert {p["provider"] for p in by_duration["points"]} <= {"sweatstack", "astral"}
    _check_intensity_rows(legacy.json()["points"], by_duration["points"], "power")
    # after=0 is the whole of every activity: the same rows as without after.
    assert [{**row, "after": None} for row in legacy.json()["points"]] == plain["points"]
    assert all(row["provider"] == row["activity_id"].split(":")[0] for row in plain["points"])


@pytest.fixture(scope="module")
def provider_curves(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A stack of its own whose gateway asks SweatStack for longitudinal curves."""
    warm_kernels()  # the demo's mocks run here: no first curve waits for the kernel
    running: RunningGateway
    running, server = serve_gateway(
        Path(tmp_path_factory.mktemp("provider-curves")), http_timeout_s=2.0, provider_curves=True
    )
    try:
        with running.client() as client:
            yield client
    finally:
        server.stop()
        running.demo.stop()


SINCE = (TODAY - timedelta(days=60)).isoformat()


@pytest.mark.parametrize(
    "query",
    [
        {"sport": "cycling", "metric": "power"},
        {"sport": "cycling", "metric": "power", "after": ["0", "300"], "durations": "5,60,1200"},
        {"sport": "cycling", "metric": "power", "after": "100", "by": "intensity"},
        {"sport": "running", "metric": "speed", "after": ["0", "2000"]},
    ],
    ids=["intensity", "duration-after", "intensity-after", "speed-after"],
)
def test_sweatstack_computing_the_curve_gives_the_gateways_answer(
    provider_curves: httpx.Client, readonly_api: httpx.Client, query: dict[str, Any]
) -> None:
    params = {**query, "provider": "sweatstack", **({"start": SINCE} if "after" in query else {})}
    asked = provider_curves.get(LONGITUDINAL, params=params)
    computed = readonly_api.get(LONGITUDINAL, params=params)
    assert asked.status_code == computed.status_code == 200, (asked.text, computed.text)
    at_provider, at_gateway = asked.json(), computed.json()

    assert at_provider["source"] == "sweatstack" and at_gateway["source"] == "gateway"
    assert at_provider["computed"] == 0
    assert at_provider["points"] and at_provider["activities"] == at_gateway["activities"]
    for theirs, ours in zip(at_provider["points"], at_gateway["points"], strict=True):
        assert theirs == {**ours, "value": pytest.approx(ours["value"], abs=1e-9)}


def test_activities_at_several_providers_are_computed_by_the_gateway(
    provider_curves: httpx.Client,
) -> None:
    answer = provider_curves.get(LONGITUDINAL, params={"sport": "cycling", "metric": "power"})
    assert answer.status_code == 200, answer.text
    curve = answer.json()
    assert curve["source"] == "gateway" and curve["computed"] == curve["activities"] > 0
