"""The engine when its processes die, as real processes on SQLite and PostgreSQL: a worker
killed (SIGKILL) in the middle of a backlog loses no event, two workers on one database never
send one delivery twice, and a retry scheduled before a restart is made after it.

Every gateway and worker here is a `gateway serve` or `gateway worker` subprocess. On SQLite
one process holds the database, so the gateway runs its engine embedded and is itself what
is killed (its engine's state is `engine.sqlite3` beside `gateway.sqlite3`); on PostgreSQL
the API replica runs with GATEWAY_ENGINE=off and `gateway worker` processes do the work. The
events come from real API calls: activities written at the gateway's `local` provider, each
of them one event that fans out to every registered endpoint.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from cryptography.fernet import Fernet
from dbos import DBOSClient
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine as SyncEngine
from standardwebhooks import Webhook

from training_gateway.adapters._mock.server import MockServer, free_loopback_port
from training_gateway.gateway.jobs import DELIVERY_QUEUE, Jobs, system_database_url
from training_gateway.gateway.settings import Settings, load_settings
from training_gateway.gateway.storage import Store, TokenVault
from training_gateway.gateway.storage.migrate import upgrade
from training_gateway.gateway.storage.tables import (
    deliveries,
    delivery_attempts,
    events,
    webhook_endpoints,
)

from ..webhook_receiver import Answer, Received, WebhookReceiver
from .events_stack import wait_until

GATEWAY = [sys.executable, "-m", "training_gateway.gateway.cli"]
ADMIN_KEY = "gwadmin_engine_crash_tests"
# One write is one event, fanned out to every endpoint: 20 x 50 = 1000 deliveries.
ENDPOINTS = 20
WRITES = 50


class Process:
    """A `gateway ...` subprocess, its output (stdout and stderr) in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self._out: IO[bytes] = open(log, "ab")  # closed by close()
        self.popen = subprocess.Popen(
            [*GATEWAY, *args], env=env, stdout=self._out, stderr=subprocess.STDOUT
        )

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def wait_for(self, marker: str, timeout_s: float = 60.0) -> None:
        """Until the process has printed `marker` (it prints what it serves once it does)."""
        deadline = time.monotonic() + timeout_s
        while marker not in self.log.read_text(errors="replace"):
            assert self.popen.poll() is None, f"{self.name} exited:\n{self.tail()}"
            assert time.monotonic() < deadline, f"{self.name} never said {marker!r}:\n{self.tail()}"
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind, as when a host dies."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def pause(self) -> None:
        self.popen.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.popen.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """SIGTERM, as a deploy stops a process, and wait for it to have shut down."""
        self.popen.send_signal(signal.SIGTERM)
        # `gateway worker` exits 0; `gateway serve` (uvicorn) raises the signal again once
        # it has shut down, so that its status says what stopped it.
        assert self.popen.wait(timeout=60) in (0, -signal.SIGTERM), self.tail()

    def close(self) -> None:
        if self.popen.poll() is None:
            self.kill()
        self._out.close()


class Deployment:
    """The gateway's processes on one database (SQLite: one `gateway serve` with its engine
    embedded; PostgreSQL: `gateway serve` with the engine off, and `gateway worker`s), the
    settings they read, and read access to their database and the engine's."""

    def __init__(self, tmp_path: Path, database_url: str, **env: str) -> None:
        self.tmp_path = tmp_path
        self.sqlite = database_url.startswith("sqlite")
        self.port = free_loopback_port()
        self.url = f"http://127.0.0.1:{self.port}"
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        self.env = {
            **inherited,
            "GATEWAY_DATA_DIR": str(tmp_path),
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_SECRET_KEY": Fernet.generate_key().decode(),
            "GATEWAY_PORT": str(self.port),
            "GATEWAY_ADMIN_KEY": ADMIN_KEY,
            "GATEWAY_WEBHOOK_ALLOW_PRIVATE": "1",
            "GATEWAY_SCHEDULE_TICK_S": "0.2",
            "GATEWAY_WEBHOOK_TIMEOUT_S": "30",
            **env,
        }
        self.settings: Settings = load_settings(self.env)
        self.processes: list[Process] = []
        self.db: SyncEngine = create_engine(
            database_url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")
        )
        self._dbos: DBOSClient | None = None

    def create_user(self, name: str) -> str:
        """A gateway user (as `gateway users create` makes one); its API key."""

        async def create() -> str:
            store = Store.open(self.settings.database_url, TokenVault(self.settings.secret_keys))
            try:
                await upgrade(store.engine)
                return await store.issue_api_key(await store.create_user(name))
            finally:
                await store.close()

        return asyncio.run(create())

    def _start(self, name: str, args: list[str], marker: str, **env: str) -> Process:
        log = self.tmp_path / f"{name}.log"
        process = Process(name, args, {**self.env, **env}, log)
        self.processes.append(process)
        process.wait_for(marker)
        return process

    def start_gateway(self, name: str = "gateway") -> Process:
        """`gateway serve`: with its engine embedded on SQLite, without on PostgreSQL."""
        engine = "embedded" if self.sqlite else "off"
        return self._start(name, ["serve"], "gateway: http", GATEWAY_ENGINE=engine)

    def start_worker(self, worker_id: str) -> Process:
        return self._start(
            worker_id, ["worker", "--worker-id", worker_id], "serving the engine's queues"
        )

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
        )

    def dbos(self) -> DBOSClient:
        if self._dbos is None:
            self._dbos = DBOSClient(system_database_url=system_database_url(self.settings))
        return self._dbos

    def delivery_jobs(self) -> list[Any]:
        """Every delivery job the engine has (DBOS's statuses, with their inputs)."""
        return list(self.dbos().list_workflows(name="deliver", load_output=False))

    def handed_over(self) -> set[str]:
        """The deliveries some delivery job of the engine holds."""
        return {
            delivery_id for job in self.delivery_jobs() for delivery_id, _ in job.input["args"][0]
        }

    def statuses(self) -> dict[str, str]:
        with self.db.connect() as conn:
            return dict(conn.execute(select(deliveries.c.id, deliveries.c.status)).all())

    def delivered(self) -> int:
        return sum(status == "delivered" for status in self.statuses().values())

    def close(self) -> None:
        for process in self.processes:
            process.close()
        if self._dbos is not None:
            self._dbos.destroy()
        self.db.dispose()


class PacedReceiver(WebhookReceiver):
    """A receiver answering (200) one request at a time, `per_s` a second, while `per_s` is
    set: sending a backlog then lasts long enough to kill a worker in the middle of it."""

    def __init__(self, per_s: float | None) -> None:
        super().__init__()
        self.per_s = per_s
        self._turn: asyncio.Lock | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.per_s:
            await super().__call__(scope, receive, send)
            return
        body = b""
        while True:  # read before waiting: a sender killed meanwhile has sent it all
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # a sender killed before it sent all of it: no request an app sees
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self._turn is None:
            self._turn = asyncio.Lock()
        async with self._turn:
            if self.per_s:
                await asyncio.sleep(1 / self.per_s)
        headers = httpx.Headers([(k.decode(), v.decode()) for k, v in scope["headers"]])
        with self._cond:
            self._received.append(Received(scope["method"], scope["path"], headers, body))
            self._cond.notify_all()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]}
        )
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def deployments() -> Iterator[list[Deployment]]:
    """Deployments a test starts, each stopped (its processes killed) at the end."""
    started: list[Deployment] = []
    yield started
    for deployment in started:
        deployment.close()


def _serve(receiver: WebhookReceiver) -> Iterator[str]:
    server = MockServer(receiver).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def paced_receiver() -> Iterator[tuple[PacedReceiver, str]]:
    receiver = PacedReceiver(per_s=20)
    yield from ((receiver, url) for url in _serve(receiver))


@pytest.fixture
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    receiver = WebhookReceiver()
    yield from ((receiver, url) for url in _serve(receiver))


def register_endpoints(deployment: Deployment, base: str, count: int) -> dict[str, Any]:
    """`count` endpoints at `base/hooks/<n>`, by the admin API: {path: the endpoint}."""
    found = {}
    with deployment.admin() as admin:
        for n in range(count):
            created = admin.post("/v1/webhooks", json={"url": f"{base}/hooks/{n}"})
            assert created.status_code == 201, created.text
            found[f"/hooks/{n}"] = created.json()
    return found


def write_activities(deployment: Deployment, key: str, count: int, label: str) -> list[str]:
    """Create `count` activities at the `local` provider through the API, from 4 clients at
    once (the first alone, as concurrent first writes of a connection race on PostgreSQL);
    the ids of those the gateway acknowledged (201), each one event."""

    def write(numbers: range) -> list[str]:
        ids = []
        with httpx.Client(
            base_url=deployment.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as client:
            for n in numbers:
                created = client.post(
                    "/v1/activities",
                    json={
                        "provider": "local",
                        "sport": "running",
                        "start": f"2026-10-{1 + n % 28:02d}T07:00:00+00:00",
                        "duration_s": 1800 + n,
                        "name": f"{label} {n}",
                    },
                )
                assert created.status_code == 201, created.text
                ids.append(created.json()["id"])
        return ids

    written = write(range(1))
    with ThreadPoolExecutor(4) as pool:
        for ids in pool.map(write, [range(1 + k, count, 4) for k in range(4)]):
            written.extend(ids)
    return written


def check_every_event_arrived(
    deployment: Deployment,
    received: list[Received],
    endpoints: dict[str, Any],
    written: list[str],
) -> Counter[str]:
    """Every acknowledged write is one event, delivered to every endpoint and recorded so;
    every request the receiver got is one of those deliveries, as recorded, signed with its
    endpoint's secret. How many times each webhook-id arrived."""
    with deployment.db.connect() as conn:
        rows = conn.execute(
            select(
                deliveries.c.id,
                deliveries.c.status,
                webhook_endpoints.c.url,
                events.c.payload,
                events.c.resource_id,
            )
            .join(webhook_endpoints, webhook_endpoints.c.id == deliveries.c.endpoint_id)
            .join(events, events.c.id == deliveries.c.event_id)
        ).all()
        attempts = conn.execute(
            select(delivery_attempts.c.delivery_id, delivery_attempts.c.status_code)
        ).all()
    assert sorted({row.resource_id for row in rows}) == sorted(written)
    assert len(rows) == len(written) * len(endpoints)
    assert {row.status for row in rows} == {"delivered"}
    by_id = {row.id: row for row in rows}
    secrets = {path: endpoint["secret"] for path, endpoint in endpoints.items()}
    for request in received:
        row = by_id[request.headers["webhook-id"]]
        assert row.url.endswith(request.path)
        assert request.body.decode() == row.payload
        assert Webhook(secrets[request.path]).verify(request.body, dict(request.headers))
    arrived = Counter(request.headers["webhook-id"] for request in received)
    assert set(arrived) == set(by_id)  # none lost, none unknown
    # One attempt recorded per delivery, the one that succeeded: an attempt cut short by the
    # kill was never recorded, and is made again under the same number.
    assert sorted(delivery_id for delivery_id, _ in attempts) == sorted(by_id)
    assert {status for _, status in attempts} == {200}
    return arrived


def test_a_killed_worker_loses_no_acknowledged_event(
    database_url: str,
    tmp_path: Path,
    deployments: list[Deployment],
    paced_receiver: tuple[PacedReceiver, str],
) -> None:
    """SIGKILL the process sending a backlog of 1000 deliveries in the middle of it: the
    process that replaces it sends the rest, and every event arrives at every endpoint; a
    delivery already recorded as delivered is never sent again, and one cut short arrives
    again with the same webhook-id. On PostgreSQL another worker takes the dead one's jobs
    (once its heartbeat is old), and the API replica keeps taking writes meanwhile."""
    receiver, base = paced_receiver
    deployment = Deployment(tmp_path, database_url, GATEWAY_WEBHOOK_RETRY_SCALE="0.0001")
    deployments.append(deployment)
    key = deployment.create_user("athlete")
    gateway = deployment.start_gateway()
    sender = gateway if deployment.sqlite else deployment.start_worker("worker-1")
    endpoints = register_endpoints(deployment, base, ENDPOINTS)

    written = write_activities(deployment, key, WRITES, "before the kill")
    total = len(written) * ENDPOINTS
    # Every delivery is in the engine's hands (a job holds it) before the kill: one whose
    # hand-over a crash lost is the sweeper's, a minute later.
    wait_until(
        lambda: deployment.handed_over() >= set(deployment.statuses()),
        what="every delivery handed over",
    )
    receiver.per_s = 200
    wait_until(lambda: deployment.delivered() >= 300, what="300 deliveries delivered")
    sender.kill()
    before = deployment.statuses()
    delivered_before = {d for d, status in before.items() if status == "delivered"}
    assert len(before) == total
    assert 0 < len(delivered_before) < total  # killed in the middle of the backlog

    receiver.per_s = None
    if deployment.sqlite:
        deployment.start_gateway("gateway-restarted")
    else:  # the API replica still takes writes, with no worker alive
        written += write_activities(deployment, key, 5, "while no worker runs")
        deployment.start_worker("worker-2")
    expected = len(written) * ENDPOINTS
    wait_until(
        lambda: deployment.delivered() == expected,
        timeout_s=90,
        what="every delivery delivered after the restart",
    )

    arrived = check_every_event_arrived(deployment, receiver.received, endpoints, written)
    assert all(arrived[d] == 1 for d in delivered_before)
    assert max(arrived.values()) <= 2


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_workers_never_send_one_delivery_twice(
    database_url: str,
    tmp_path: Path,
    deployments: list[Deployment],
    receiver: tuple[WebhookReceiver, str],
) -> None:
    """Two workers serve one queue, and each of 1000 deliveries is in two jobs: its first
    hand-over's, and another batch's (as when the sweeper of a worker hands over again work
    it finds overdue). The workers are paused (SIGSTOP) while the backlog is made and let go
    together, so both take jobs at once. Each delivery is claimed by one job and sent once:
    the receiver (always 2xx, at once) gets every webhook-id exactly once, and each delivery
    has one attempt."""
    hooks, base = receiver
    deployment = Deployment(tmp_path, database_url, GATEWAY_WEBHOOK_RETRY_SCALE="0.0001")
    deployments.append(deployment)
    key = deployment.create_user("athlete")
    with ThreadPoolExecutor(3) as pool:  # all three start at once
        gateway = pool.submit(deployment.start_gateway)
        workers = [pool.submit(deployment.start_worker, name) for name in ("worker-a", "worker-b")]
        gateway.result()
        paused = [worker.result() for worker in workers]
    endpoints = register_endpoints(deployment, base, ENDPOINTS)
    for worker in paused:
        worker.pause()

    written = write_activities(deployment, key, WRITES, "twice handed over")
    total = len(written) * ENDPOINTS
    wait_until(
        lambda: deployment.handed_over() >= set(deployment.statuses()),
        what="every delivery handed over",
    )
    assert asyncio.run(_hand_over_again(deployment)) == total
    for worker in paused:
        worker.resume()
    wait_until(lambda: deployment.delivered() == total, timeout_s=60, what="every delivery")

    arrived = check_every_event_arrived(deployment, hooks.received, endpoints, written)
    assert set(arrived.values()) == {1}
    executors = Counter(job.executor_id for job in deployment.delivery_jobs())
    assert executors["worker-a"] > 0
    assert executors["worker-b"] > 0


async def _hand_over_again(deployment: Deployment) -> int:
    """Hand every pending, unclaimed delivery to the engine once more, as the sweeper does
    (a delivery job of its next attempt), in batches of 10 taken in reverse order, so each
    batch differs from the first hand-over's; how many."""
    with deployment.db.connect() as conn:
        pending = conn.execute(
            select(deliveries.c.id, deliveries.c.attempts)
            .where(deliveries.c.status == "pending", deliveries.c.claimed_by.is_(None))
            .order_by(deliveries.c.id.desc())
        ).all()
    jobs = Jobs(deployment.settings)
    try:
        for at in range(0, len(pending), 10):
            batch = [(delivery_id, attempts + 1) for delivery_id, attempts in pending[at : at + 10]]
            await jobs.enqueue("deliver", DELIVERY_QUEUE, f"deliver-again-{batch[0][0]}", batch)
    finally:
        await jobs.aclose()
    return len(pending)


def test_a_retry_scheduled_before_a_restart_is_made_after_it(
    database_url: str,
    tmp_path: Path,
    deployments: list[Deployment],
    receiver: tuple[WebhookReceiver, str],
) -> None:
    """A delivery fails, so its next attempt is scheduled (in 2 s); the process that would
    make it is stopped (SIGTERM, as a deploy does) and stays down until past that time. The
    schedule is the engine's, in its database: the process started next makes the attempt,
    with the same webhook-id, and the delivery is delivered."""
    hooks, base = receiver
    # The delivery schedule 0.4 times as long: the second attempt 2 s after the first.
    deployment = Deployment(tmp_path, database_url, GATEWAY_WEBHOOK_RETRY_SCALE="0.4")
    deployments.append(deployment)
    gateway = deployment.start_gateway()
    sender = gateway if deployment.sqlite else deployment.start_worker("worker-1")
    [(path, endpoint)] = register_endpoints(deployment, base, 1).items()
    hooks.answer_next(Answer(status=503))
    admin = deployment.admin()
    sent = admin.post(f"/v1/webhooks/{endpoint['id']}/test")
    assert sent.status_code == 202, sent.text
    delivery_id = sent.json()["id"]
    log_path = f"/v1/webhooks/{endpoint['id']}/deliveries/{delivery_id}"

    def retry_scheduled() -> list[Any] | None:
        jobs = deployment.dbos().list_workflows(workflow_ids=[f"deliver-{delivery_id}-2"])
        return jobs if jobs and jobs[0].status in ("DELAYED", "ENQUEUED") else None

    wait_until(retry_scheduled, what="the retry's job")
    first = admin.get(log_path).json()
    assert first["status"] == "pending"
    assert [a["status_code"] for a in first["attempt_log"]] == [503]
    due = datetime.fromisoformat(first["next_attempt_at"])
    admin.close()

    sender.stop()
    while datetime.now(UTC) < due:  # down until the retry is overdue, and a little more
        time.sleep(0.1)
    time.sleep(0.5)
    assert len(hooks.received) == 1

    if deployment.sqlite:
        deployment.start_gateway("gateway-restarted")
    else:
        deployment.start_worker("worker-2")
    first_request, second_request = hooks.wait_for(2, timeout_s=30)
    assert first_request.headers["webhook-id"] == second_request.headers["webhook-id"]
    assert second_request.headers["webhook-id"] == delivery_id
    assert Webhook(endpoint["secret"]).verify(second_request.body, dict(second_request.headers))
    assert second_request.path == path

    with deployment.admin() as admin:
        log = wait_until(
            lambda: (found := admin.get(log_path).json())["status"] == "delivered" and found,
            what="the delivery recorded as delivered",
        )
    assert log["attempts"] == 2
    assert [a["status_code"] for a in log["attempt_log"]] == [503, 200]
    made = [datetime.fromisoformat(a["at"]) for a in log["attempt_log"]]
    assert (made[1] - made[0]).total_seconds() >= 2.0
    assert len(hooks.received) == 2
