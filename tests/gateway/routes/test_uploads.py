"""FIT uploads over real HTTP: forwarded to SweatStack, decoded into Astral, all or nothing."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq

from tests.gateway.conftest import RunningGateway, serve_gateway
from tests.gateway.routes.test_activities import assert_problem, walk
from training_gateway.adapters._mock.synthetic import encode_fit, synthetic_activity
from training_gateway.models.fit import MAX_FIT_BYTES


def fit_file(
    seed: int = 0, *, sport: str = "running", duration_s: int = 900, days_ago: int = 2
) -> bytes:
    start = (datetime.now(UTC) - timedelta(days=days_ago)).replace(microsecond=0)
    return encode_fit(
        synthetic_activity(duration_s, sport=sport, seed=seed, start=start, name=f"Upload {seed}")
    )


def upload(api: httpx.Client, provider: str, files: list[tuple[str, bytes]]) -> httpx.Response:
    return api.post(
        "/v1/activities/upload",
        data={"provider": provider},
        files=[("files", (name, content, "application/octet-stream")) for name, content in files],
    )


def astral_ids(api: httpx.Client) -> set[str]:
    return {a["id"] for a in walk(api, provider="astral", limit=500)}


def test_upload_to_sweatstack_is_forwarded_and_processed(
    gateway: RunningGateway, api: httpx.Client
) -> None:
    response = upload(api, "sweatstack", [("ride.fit", fit_file(1, sport="cycling.road"))])
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["provider"] == "sweatstack" and len(body["sources"]) == 1
    mock: Any = gateway.demo.mocks["sweatstack"]
    deadline = time.monotonic() + 10
    while mock.sources[body["sources"][0]].status == "processing" and time.monotonic() < deadline:
        time.sleep(0.05)
    source = mock.sources[body["sources"][0]]
    assert source.status == "processed"
    activity_id = f"sweatstack:{source.activity_ids[0]}"
    assert api.get(f"/v1/activities/{activity_id}").json()["sport"] == "cycling.road"


def test_upload_to_astral_creates_activities_whose_data_and_mean_max_work(
    api: httpx.Client,
) -> None:
    before = astral_ids(api)
    files = [
        ("run.fit", fit_file(2, sport="running.road")),
        ("ride.fit", fit_file(3, sport="cycling")),
    ]
    response = upload(api, "astral", files)
    assert response.status_code == 201, response.text
    body = response.json()
    assert [i["sport"] for i in body["items"]] == ["running", "cycling"]
    assert any("running.road" in note for note in body["notes"])
    assert astral_ids(api) - before == {i["id"] for i in body["items"]}
    ride = body["items"][1]
    data = pq.read_table(io.BytesIO(api.get(f"/v1/activities/{ride['id']}/data").content))
    assert data.num_rows == 900 and "power" in data.column_names
    curve = api.get(
        f"/v1/activities/{ride['id']}/mean-max", params={"metric": "power", "durations": "60"}
    ).json()
    assert curve["source"] == "gateway" and curve["points"][0]["value"] > 0
    # The samples the gateway keeps are segmented by its own codec.
    segmented = api.get(f"/v1/activities/{ride['id']}/data", params={"segmentation_on": "power"})
    assert segmented.status_code == 200 and segmented.headers["segmented-by"] == "gateway"
    segments = pq.read_table(io.BytesIO(segmented.content))
    assert segments.column("duration").to_numpy().sum() == 900
    assert 20 <= 900 / segments.num_rows <= 50
    assert api.delete(f"/v1/activities/{ride['id']}").status_code == 204
    assert_problem(api.get(f"/v1/activities/{ride['id']}/data"), 404)


def test_bad_files_are_422_naming_the_file_and_nothing_is_created(
    gateway: RunningGateway, api: httpx.Client
) -> None:
    good = fit_file(4)
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 2] ^= 0xFF
    cases = {
        "empty.fit": b"",
        "notes.fit": b"these are not the droids you are looking for" * 10,
        "corrupt.fit": bytes(corrupt),
        "huge.fit": good + b"\0" * (MAX_FIT_BYTES + 1 - len(good)),
    }
    before = astral_ids(api)
    mock: Any = gateway.demo.mocks["sweatstack"]
    sources_before = len(mock.sources)
    for name, content in cases.items():
        for provider in ("astral", "sweatstack"):
            response = upload(api, provider, [("good.fit", good), (name, content)])
            assert_problem(response, 422, field=name)
    assert astral_ids(api) == before
    assert len(mock.sources) == sources_before
    eleven = [(f"f{i}.fit", good) for i in range(11)]
    assert_problem(upload(api, "astral", eleven), 422, field="files")
    assert_problem(upload(api, "strava", [("good.fit", good)]), 422, field="provider")
    assert astral_ids(api) == before


def test_astral_refusal_of_one_file_undoes_the_others(api: httpx.Client) -> None:
    before = astral_ids(api)
    hike = fit_file(5, sport="walking.hiking")  # Astral stores running, cycling, swimming only
    response = upload(api, "astral", [("run.fit", fit_file(6)), ("hike.fit", hike)])
    assert_problem(response, 422, field="hike.fit")
    assert astral_ids(api) == before


def test_a_file_whose_records_run_days_past_its_session_is_refused(api: httpx.Client) -> None:
    import pyarrow as pa

    from training_gateway.models.fit import FitActivity

    activity = synthetic_activity(
        120, sport="cycling", seed=7, start=datetime.now(UTC) - timedelta(days=1)
    )
    stamps = activity.records.column("timestamp").to_pylist()
    stamps[-1] = stamps[-1] + timedelta(days=100)
    index = activity.records.column_names.index("timestamp")
    records = activity.records.set_column(
        index, "timestamp", pa.array(stamps, pa.timestamp("ms", tz="UTC"))
    )
    corrupt = encode_fit(FitActivity(activity.summary, records))
    before = astral_ids(api)
    assert_problem(upload(api, "astral", [("far.fit", corrupt)]), 422, field="far.fit")
    assert astral_ids(api) == before


async def test_undo_removes_every_created_activity_even_when_one_delete_fails(store: Any) -> None:
    from tests.gateway.fakes import BASE, make_activity
    from training_gateway.adapters.base import Capability, Credentials
    from training_gateway.gateway.services.sources import Source
    from training_gateway.gateway.services.uploads import undo
    from training_gateway.gateway.storage import AnalyticsRepository
    from training_gateway.models.activity import Activity, ActivityDraft
    from training_gateway.models.errors import ProviderError

    class Provider:
        name = "astral"
        capabilities = frozenset({Capability.DELETE_ACTIVITY})

        def __init__(self) -> None:
            self.deleted: list[str] = []

        async def create_activity(self, creds: Credentials, draft: ActivityDraft) -> Activity:
            raise NotImplementedError

        async def replace_activity(
            self, creds: Credentials, native_id: str, draft: ActivityDraft
        ) -> Activity:
            raise NotImplementedError

        async def delete_activity(self, creds: Credentials, native_id: str) -> None:
            self.deleted.append(native_id)
            if native_id == "a1":
                raise ProviderError("astral", "astral answered 503")

    user = await store.create_user("uploader")
    repo = AnalyticsRepository(store)
    created = [make_activity("astral", "a1", BASE), make_activity("astral", "a2", BASE)]
    for activity in created:
        await repo.save_streams(user, activity.id, synthetic_activity(60).records)
    provider = Provider()
    source = Source(name="astral", adapter=provider, credentials=Credentials(access_token="t"))  # type: ignore[arg-type]
    left = await undo(source, user, repo, created)
    assert provider.deleted == ["a1", "a2"] and left == ["astral:a1"]
    assert await repo.load_streams(user, "astral:a2") is None


def test_the_form_is_read_strictly_as_it_streams(api: httpx.Client) -> None:
    good = fit_file(5)
    part = [("files", ("good.fit", good, "application/octet-stream"))]
    unknown = api.post(
        "/v1/activities/upload", data={"provider": "astral", "note": "x"}, files=part
    )
    assert_problem(unknown, 422, field="note")
    missing = api.post("/v1/activities/upload", files=part)
    assert_problem(missing, 422, field="provider")
    assert_problem(
        api.post("/v1/activities/upload", json={"provider": "astral"}), 415, field="Content-Type"
    )
    boundary = b"b0undary"
    cut = (
        b'--b0undary\r\nContent-Disposition: form-data; name="provider"\r\n\r\nastral\r\n'
        b'--b0undary\r\nContent-Disposition: form-data; name="files"; filename="a.fit"\r\n'
        b"\r\n" + good[:100]
    )
    truncated = api.post(
        "/v1/activities/upload",
        content=cut,
        headers={"Content-Type": "multipart/form-data; boundary=" + boundary.decode()},
    )
    assert_problem(truncated, 422, field="body")
    # A path in the file name is dropped: answers name the file, never a path of the client.
    assert_problem(upload(api, "astral", [("../../etc/bad.fit", b"")]), 422, field="bad.fit")


def test_uploads_past_the_concurrent_limit_wait_then_get_503_with_retry_after(
    tmp_path: Path,
) -> None:
    gateway, server = serve_gateway(tmp_path, max_concurrent_uploads=1, upload_wait_s=0.3)
    release = threading.Event()
    try:

        def slow_body() -> Iterator[bytes]:
            boundary = b"--slow\r\n"
            yield boundary + b'Content-Disposition: form-data; name="provider"\r\n\r\nastral\r\n'
            release.wait(20)  # holds the one upload slot until released
            yield (
                boundary
                + b'Content-Disposition: form-data; name="files"; filename="r.fit"\r\n\r\n'
                + fit_file(6)
                + b"\r\n--slow--\r\n"
            )

        headers = {"Authorization": f"Bearer {gateway.key}"}
        with httpx.Client(base_url=gateway.url, headers=headers, timeout=30) as api:
            first: dict[str, httpx.Response] = {}
            sender = threading.Thread(
                target=lambda: first.update(
                    r=api.post(
                        "/v1/activities/upload",
                        content=slow_body(),
                        headers={"Content-Type": "multipart/form-data; boundary=slow"},
                    )
                )
            )
            sender.start()
            time.sleep(0.5)  # the slow upload has its slot
            busy = upload(api, "astral", [("other.fit", fit_file(7))])
            assert_problem(busy, 503)
            assert busy.headers["Retry-After"] == "1"
            release.set()
            sender.join(30)
            assert first["r"].status_code == 201, first["r"].text
            # The slot is free again.
            assert upload(api, "astral", [("other.fit", fit_file(7))]).status_code == 201
    finally:
        release.set()
        server.stop()
