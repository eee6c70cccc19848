"""POST /v1/hooks/{provider}: a provider's webhook is verified (signature in constant time,
300 s tolerance, old and new secret during a roll), kept once, and answered 202 at once; a
bad or stale signature is refused as problem+json and nothing is kept."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from training_gateway.adapters.sweatstack.webhooks import sign
from training_gateway.gateway.storage import Store
from training_gateway.gateway.storage.tables import inbound_webhooks

from ..conftest import RunningGateway, serve_gateway

PATH = "/v1/hooks/sweatstack"


def _body(event_type: str = "activity_created", resource_id: str = "act_1") -> bytes:
    return json.dumps(
        {
            "user_id": "usr_someone",
            "event_type": event_type,
            "resource_id": resource_id,
            "timestamp": "2026-12-01T10:00:00Z",
        }
    ).encode()


def _signed(secret: str, body: bytes, *, t: int | None = None) -> dict[str, str]:
    moment = int(time.time()) if t is None else t
    return {
        "X-Sweatstack-Signature": f"t={moment},v1={sign(secret, body, moment)}",
        "content-type": "application/json",
    }


def _kept(gateway: RunningGateway) -> int:
    async def count(store: Store) -> int:
        async with store.engine.connect() as conn:
            return int(
                (
                    await conn.execute(select(func.count()).select_from(inbound_webhooks))
                ).scalar_one()
            )

    return gateway.on_store(count)


@pytest.fixture
def hooks(gateway: RunningGateway) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, timeout=10)


def _secret(gateway: RunningGateway) -> str:
    return gateway.settings.webhook_secrets["sweatstack"][0]


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    found: dict[str, Any] = response.json()
    return found


def test_a_signed_webhook_is_kept_once(gateway: RunningGateway, hooks: httpx.Client) -> None:
    before = _kept(gateway)
    body = _body(resource_id="act_kept_once")
    first = hooks.post(PATH, content=body, headers=_signed(_secret(gateway), body))
    assert first.status_code == 202, first.text
    assert first.json() == {"accepted": True, "duplicate": False}
    # SweatStack retrying the same delivery (a later signature, the same body): seen once.
    again = hooks.post(PATH, content=body, headers=_signed(_secret(gateway), body))
    assert again.status_code == 202
    assert again.json() == {"accepted": True, "duplicate": True}
    assert _kept(gateway) == before + 1


def test_bad_signatures_are_refused_and_nothing_is_kept(
    gateway: RunningGateway, hooks: httpx.Client
) -> None:
    before = _kept(gateway)
    body = _body(resource_id="act_refused")
    secret = _secret(gateway)

    missing = _problem(hooks.post(PATH, content=body), 400)
    assert missing["field"] == "X-Sweatstack-Signature"
    assert missing["provider"] == "sweatstack"

    garbled = {"X-Sweatstack-Signature": "v1=abc"}
    assert "t=" in _problem(hooks.post(PATH, content=body, headers=garbled), 400)["detail"]

    forged = _signed("whsec_not_the_secret", body)
    assert (
        "does not match" in _problem(hooks.post(PATH, content=body, headers=forged), 401)["detail"]
    )

    tampered = _signed(secret, body)
    assert _problem(hooks.post(PATH, content=body + b" ", headers=tampered), 401)

    stale = _signed(secret, body, t=int(time.time()) - 301)
    assert "300" in _problem(hooks.post(PATH, content=body, headers=stale), 401)["detail"]

    undecodable = b'{"user_id": 1}'
    _problem(hooks.post(PATH, content=undecodable, headers=_signed(secret, undecodable)), 400)

    huge = b"x" * (65 * 1024)
    _problem(hooks.post(PATH, content=huge, headers=_signed(secret, huge)), 413)
    assert _kept(gateway) == before


def test_the_previous_secret_verifies_during_a_roll(tmp_path: Any) -> None:
    running, server = serve_gateway(tmp_path)
    try:
        current = running.settings.webhook_secrets["sweatstack"][0]
        running.settings.webhook_secrets["sweatstack"] = (current, "whsec_the_old_one")
        with httpx.Client(base_url=running.url) as hooks:
            for secret in (current, "whsec_the_old_one"):
                body = _body(resource_id=f"act_{secret[-6:]}")
                assert (
                    hooks.post(PATH, content=body, headers=_signed(secret, body)).status_code == 202
                )
    finally:
        server.stop()
        running.demo.stop()


def test_only_providers_that_send_webhooks_have_a_hook(hooks: httpx.Client) -> None:
    assert "no webhooks" in _problem(hooks.post("/v1/hooks/astral", content=b"{}"), 404)["detail"]
    assert _problem(hooks.post("/v1/hooks/nowhere", content=b"{}"), 404)
    assert _problem(hooks.post(PATH + "?debug=1", content=b"{}"), 400)["field"] == "debug"


def test_a_gateway_without_the_secret_takes_no_webhooks(tmp_path: Any) -> None:
    running, server = serve_gateway(tmp_path)
    try:
        running.settings.webhook_secrets.pop("sweatstack")
        body = _body()
        answer = httpx.post(running.url + PATH, content=body, headers=_signed("whsec_x", body))
        problem = _problem(answer, 503)
        assert "GATEWAY_SWEATSTACK_WEBHOOK_SECRET" in problem["detail"]
    finally:
        server.stop()
        running.demo.stop()


def test_the_webhooks_admin_api_takes_the_admin_key_only(
    gateway: RunningGateway, hooks: httpx.Client
) -> None:
    assert _problem(hooks.get("/v1/webhooks"), 401)
    user_key = {"Authorization": f"Bearer {gateway.key}"}
    assert _problem(hooks.get("/v1/webhooks", headers=user_key), 401)
    admin = {"Authorization": f"Bearer {gateway.settings.admin_key}"}
    assert hooks.get("/v1/webhooks", headers=admin).status_code == 200
    bad_url = hooks.post("/v1/webhooks", headers=admin, json={"url": "ftp://example.com/x"})
    assert "url" in json.dumps(_problem(bad_url, 422))
    unknown_type = hooks.post(
        "/v1/webhooks", headers=admin, json={"url": "http://127.0.0.1:9/x", "event_types": ["nope"]}
    )
    assert "event_types" in json.dumps(_problem(unknown_type, 422))
    assert _problem(hooks.get("/v1/webhooks/ep_missing", headers=admin), 404)


def test_a_gateway_without_an_admin_key_has_no_admin_api(tmp_path: Any) -> None:
    running, server = serve_gateway(tmp_path)
    try:
        running.settings.admin_key = None
        answer = httpx.get(running.url + "/v1/webhooks", headers={"Authorization": "Bearer x"})
        assert "GATEWAY_ADMIN_KEY" in _problem(answer, 403)["detail"]
    finally:
        server.stop()
        running.demo.stop()


def test_webhook_targets_must_be_public_outside_demo_mode() -> None:
    from training_gateway.gateway.services.events import check_target
    from training_gateway.models.errors import InvalidInput

    for url in (
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
    ):
        with pytest.raises(InvalidInput) as refused:
            check_target(url, allow_private=False)
        assert refused.value.field == "url"
        check_target(url, allow_private=True)  # demo mode: local receivers are fine
    for url in ("ftp://example.com/x", "http://user:pw@example.com/x", "http:///x"):
        with pytest.raises(InvalidInput):
            check_target(url, allow_private=True)


def test_the_webhooks_job_keeps_the_id_of_the_request_that_received_it(
    gateway: RunningGateway, hooks: httpx.Client
) -> None:
    from dbos import DBOSClient

    from training_gateway.gateway.jobs import system_database_url

    body = _body(resource_id="act_traced")
    headers = {**_signed(_secret(gateway), body), "X-Request-Id": "hook-request-7"}
    answer = hooks.post(PATH, content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    assert answer.headers["x-request-id"] == "hook-request-7"
    client = DBOSClient(system_database_url=system_database_url(gateway.settings))
    try:
        deadline = time.monotonic() + 10
        while not (jobs := client.list_workflows(name="inbound")):  # enqueued after the 202
            assert time.monotonic() < deadline, "the webhook's job was never enqueued"
            time.sleep(0.05)
    finally:
        client.destroy()
    [job] = jobs
    assert job.input is not None and job.input["args"][2] == "hook-request-7"
