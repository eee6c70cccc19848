"""GatewayClient's writes, each test on a demo stack of its own."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.gateway.conftest import RunningGateway
from training_gateway.adapters._mock.synthetic import encode_fit, synthetic_activity
from training_gateway.gateway.client import (
    GatewayClient,
    InvalidBody,
    ListingIncomplete,
    NotFound,
    PreconditionFailed,
    ProviderError,
    RateLimited,
)
from training_gateway.gateway.wire import ActivityHrModelRequest, UploadCreated
from training_gateway.models.activity import ActivityCreate, ActivityDraft, ActivityPatch
from training_gateway.models.lab_test import LabTestCreate, LabTestDraft, LabTestPatch
from training_gateway.models.trace import TraceCreate, TraceDraft

CEST = datetime.fromisoformat("2026-05-18T17:32:00+02:00").tzinfo
RETURN_TO = "http://127.0.0.1:9/connected"


def test_create_replace_patch_delete_an_activity_on_astral(own_client: GatewayClient) -> None:
    created = own_client.create_activity(
        ActivityCreate(
            provider="astral",
            sport="running",
            start=datetime(2026, 5, 18, 17, 32, tzinfo=CEST),
            duration_s=2774,
            name="Morning 10K",
            distance_m=10000,
        )
    )
    assert created.id.startswith("astral:") and created.name == "Morning 10K"
    assert own_client.get_activity(created.id) == created

    replaced = own_client.replace_activity(
        created.id,
        ActivityDraft(
            sport="cycling",
            start=datetime(2026, 5, 18, 18, tzinfo=CEST),
            duration_s=3600,
            name="Ride",
        ),
    )
    assert (replaced.sport, replaced.name, replaced.distance_m) == ("cycling", "Ride", None)

    patched = own_client.patch_activity(created.id, ActivityPatch(name="Evening ride"))
    assert (patched.name, patched.sport) == ("Evening ride", "cycling")
    with pytest.raises(InvalidBody) as nameless:  # Astral keeps no activity without a name
        own_client.patch_activity(created.id, {"name": None})
    assert (nameless.value.status, nameless.value.field) == (422, "name")

    own_client.put_activity_app_metadata(created.id, {"coach": "ok"})
    shown = own_client.get_activity(created.id).extensions["app_metadata"]
    assert shown == {"coach": "ok"}
    own_client.delete_activity_app_metadata(created.id)
    assert "app_metadata" not in own_client.get_activity(created.id).extensions

    own_client.delete_activity(created.id)
    with pytest.raises(NotFound):
        own_client.get_activity(created.id)


def test_lab_tests_crud_on_local_with_a_conditional_patch(own_client: GatewayClient) -> None:
    start = datetime(2026, 6, 1, 9, tzinfo=UTC)
    created = own_client.create_test(
        LabTestCreate(provider="local", sport="cycling", start=start, title="Ramp")
    )
    assert created.id.startswith("local:") and created.title == "Ramp"
    assert created.id in {t.id for t in own_client.iter_tests(provider="local")}

    _, version = own_client.get_test_with_etag(created.id)
    patched = own_client.patch_test(created.id, LabTestPatch(title="Ramp 2"), if_match=version)
    assert patched.title == "Ramp 2"
    with pytest.raises(PreconditionFailed) as stale:
        own_client.patch_test(created.id, {"title": "lost update"}, if_match=version)
    assert stale.value.status == 412

    replaced = own_client.replace_test(created.id, LabTestDraft(sport="running", start=start))
    assert (replaced.sport, replaced.title) == ("running", None)
    own_client.put_test_app_metadata(created.id, {"app": 1})
    assert own_client.get_test(created.id).app_metadata == {"app": 1}
    own_client.delete_test_app_metadata(created.id)
    assert own_client.get_test(created.id).app_metadata is None

    own_client.delete_test(created.id)
    with pytest.raises(NotFound):
        own_client.get_test(created.id)


def test_dailies_and_traces_on_local(own_client: GatewayClient) -> None:
    day = date.today() - timedelta(days=3)
    daily_id = f"local:body_mass:{day.isoformat()}"
    assert own_client.set_daily(daily_id, 71.4).value == 71.4
    listed = own_client.list_dailies(start=day, end=day, measure="body_mass", provider="local")
    assert [(d.id, d.value) for d in listed.items] == [(daily_id, 71.4)]
    own_client.delete_daily(daily_id)
    with pytest.raises(NotFound):
        own_client.delete_daily(daily_id)

    moment = datetime(2026, 6, 2, 10, tzinfo=UTC)
    trace = own_client.create_trace(TraceCreate(provider="local", timestamp=moment, lactate=2.1))
    assert own_client.get_trace(trace.id).lactate == 2.1
    assert trace.id in {t.id for t in own_client.iter_traces(provider="local")}
    replaced = own_client.replace_trace(trace.id, TraceDraft(timestamp=moment, rpe=7))
    assert (replaced.lactate, replaced.rpe) == (None, 7)
    own_client.delete_trace(trace.id)
    with pytest.raises(NotFound):
        own_client.get_trace(trace.id)


def test_upload_then_fit_the_hr_model_on_it(own_client: GatewayClient, tmp_path: Path) -> None:
    start = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    ride = tmp_path / "run.fit"
    ride.write_bytes(encode_fit(synthetic_activity(1200, sport="running", seed=4, start=start)))
    outcome = own_client.upload([ride], provider="astral")
    assert isinstance(outcome, UploadCreated) and len(outcome.items) == 1
    run = outcome.items[0]
    assert own_client.activity_data(run.id).num_rows == 1200

    fit = own_client.fit_activity_hr_model(run.id, ActivityHrModelRequest())
    assert fit.activity_id == run.id and fit.sport == "running" and fit.samples > 0
    profile = own_client.hr_model_profile("running")
    assert profile.sport == "running" and profile.history


def test_disconnect_then_connect_again_through_oauth(
    own_client: GatewayClient, gateway: RunningGateway
) -> None:
    ride = own_client.list_activities(provider="sweatstack", limit=1).items[0]
    gone = own_client.disconnect("sweatstack")
    assert gone.provider == "sweatstack" and gone.deleted
    assert "sweatstack" not in {c.provider for c in own_client.list_connections()}
    with pytest.raises(NotFound) as refused:
        own_client.get_activity(ride.id)
    assert "you have not connected 'sweatstack'" in (refused.value.detail or "")

    start = own_client.connect("sweatstack", RETURN_TO)
    # The user's browser at the provider, which approves and sends it back with a code.
    approved = httpx.get(start.authorization_url, follow_redirects=False, timeout=10)
    assert approved.status_code == 302
    back = {k: v[0] for k, v in parse_qs(urlsplit(approved.headers["location"]).query).items()}
    target = own_client.complete_connection("sweatstack", code=back["code"], state=back["state"])
    assert target == RETURN_TO + "?connected=sweatstack"
    assert {c.provider: c.status for c in own_client.list_connections()}["sweatstack"] == "active"


def test_provider_faults_are_typed_errors_and_a_walk_names_who_failed(
    own_client: GatewayClient, gateway: RunningGateway
) -> None:
    astral = gateway.demo.mocks["astral"]
    run = own_client.list_activities(provider="astral", limit=1, consistency="live").items[0]

    astral.faults.fail_next(429, headers={"Retry-After": "90"})
    with pytest.raises(RateLimited) as throttled:
        own_client.get_activity(run.id)
    assert (throttled.value.status, throttled.value.provider) == (429, "astral")
    assert throttled.value.retry_after == 90

    astral.faults.fail_next(500)
    with pytest.raises(ProviderError) as failed:
        own_client.get_activity(run.id)
    assert (failed.value.status, failed.value.provider) == (502, "astral")

    # Astral failing for the whole walk: every SweatStack activity comes, then the walk says
    # which provider is missing.
    sweatstack = {
        a.id for a in own_client.iter_activities(provider="sweatstack", consistency="live")
    }
    astral.faults.fail_next(500, times=10_000)
    walked: list[str] = []
    with pytest.raises(ListingIncomplete) as incomplete:
        for activity in own_client.iter_activities(limit=50, consistency="live"):
            walked.append(activity.id)
    assert [f.provider for f in incomplete.value.failures] == ["astral"]
    assert set(walked) == sweatstack | {a for a in walked if a.startswith("local:")}
