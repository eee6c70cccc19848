"""Events: how fast the gateway takes provider webhooks in, how long a change at a provider
takes to reach an app as a unified event, and how fast one worker drains a backlog of
deliveries, on SQLite (the engine embedded in `gateway serve`) and on PostgreSQL (`gateway
serve` with GATEWAY_ENGINE=off and one `gateway worker`).

    python benchmarks/events.py [--runs 3] [--databases sqlite postgres]
        [--only ack e2e astral drain] [--astral-interval-s 5] [--endpoints 10 --writes 200]

- ack: POST /v1/hooks/sweatstack, signed as SweatStack signs (`X-Sweatstack-Signature`),
  one at a time, back to back (a burst: faster than the gateway processes them) and then
  at --ack-rate a second: the time to the 202 (goal: p99 < 20 ms).
- e2e: an activity created in SweatStack's own app (the mock's POST /_mock/changes), until
  the app's receiver has the activity.created event: the mock's webhook, the gateway's
  processing (it fetches the activity) and the delivery (goal: p50 < 1 s).
- astral: the same at Astral, which sends no webhooks: found by the next reconciliation
  (GATEWAY_ASTRAL_RECONCILE_INTERVAL_S), so the latency is read against that interval;
  changes are made at random moments of it.
- drain: a backlog of endpoints x writes deliveries (activities written at the gateway's
  `local` provider while no engine runs, each fanned out to every endpoint), then one worker
  started: deliveries per second, from the first one received to the last one recorded as
  delivered (goal: >= 500/s).

Every server is its own process: the provider mocks (`gateway mock`), the gateway, the
worker, and the app's receiver (this script, `--serve-receiver`), which records when each
delivery arrived. Figures are the median over runs of each run's figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text

from training_gateway.adapters._mock.server import free_loopback_port
from training_gateway.adapters.sweatstack.webhooks import sign
from training_gateway.gateway.storage.tables import deliveries, inbound_webhooks

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _stack import GATEWAY, _wait_http

ADMIN_KEY = "gwadmin_benchmark"
POSTGRES_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


# the app's receiver, a process of its own


def serve_receiver(port: int) -> None:
    """Answer every POST 200 at once, recording when it arrived; GET /_received?after=N
    gives the records from the Nth on."""
    import uvicorn

    records: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        at = time.time()
        if scope["method"] == "POST":
            headers = dict(scope["headers"])
            event = json.loads(body)
            records.append(
                {
                    "at": at,
                    "webhook_id": headers.get(b"webhook-id", b"").decode(),
                    "type": event.get("type"),
                    "id": event.get("data", {}).get("id"),
                }
            )
            answer = b""
        else:
            after = int(scope["query_string"].decode().partition("after=")[2] or 0)
            answer = json.dumps(records[after:]).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(answer)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


class Receiver:
    """The receiver process, as this script reads it."""

    def __init__(self, port: int, process: subprocess.Popen[bytes]) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.process = process
        self.seen: list[dict[str, Any]] = []
        self._client = httpx.Client(base_url=self.url, timeout=30)

    def poll(self) -> list[dict[str, Any]]:
        self.seen.extend(self._client.get("/_received", params={"after": len(self.seen)}).json())
        return self.seen

    def wait_for(self, type_: str, resource_id: str, timeout_s: float = 60.0) -> float:
        """When the event of `type_` about `resource_id` arrived (wall clock)."""
        deadline = time.monotonic() + timeout_s
        start = 0
        while time.monotonic() < deadline:
            records = self.poll()
            for record in records[start:]:
                if record["type"] == type_ and record["id"] == resource_id:
                    return float(record["at"])
            start = len(records)
            time.sleep(0.01)
        raise RuntimeError(f"no {type_} event of {resource_id} within {timeout_s:g} s")


# the processes


@dataclass
class Deployment:
    """One database (SQLite in a fresh data directory, or PostgreSQL emptied) and the
    processes serving it."""

    database: str
    data_dir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="bench-events-"))
    port: int = field(default_factory=free_loopback_port)
    env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)
    key: str = ""

    def __post_init__(self) -> None:
        secret = subprocess.run(
            [*GATEWAY, "secret-key"], capture_output=True, text=True, check=True
        ).stdout.strip()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        self.env.update(
            GATEWAY_DATA_DIR=self.data_dir,
            GATEWAY_SECRET_KEY=secret,
            GATEWAY_PORT=str(self.port),
            GATEWAY_ADMIN_KEY=ADMIN_KEY,
            GATEWAY_WEBHOOK_ALLOW_PRIVATE="1",
            GATEWAY_SCHEDULE_TICK_S="1",
            GATEWAY_BACKFILL_PAGES_PER_S="50",
        )
        if self.database == "postgres":
            _empty_postgres(POSTGRES_URL)
            self.env["GATEWAY_DATABASE_URL"] = POSTGRES_URL

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        if self.database == "postgres":
            return POSTGRES_URL.replace("+asyncpg", "+psycopg")
        return f"sqlite:///{self.data_dir}/gateway.sqlite3"

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [*GATEWAY, *args], input=stdin, capture_output=True, text=True, env=self.env
        )
        if done.returncode != 0:
            raise RuntimeError(f"gateway {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def spawn(self, args: list[str], **env: str) -> subprocess.Popen[Any]:
        process = subprocess.Popen(
            args, env={**self.env, **env}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self.processes.append(process)
        return process

    def start_gateway(self, engine: str) -> subprocess.Popen[Any]:
        process = self.spawn([*GATEWAY, "serve"], GATEWAY_ENGINE=engine)
        _wait_http(self.url + "/health")
        return process

    def start_worker(self) -> subprocess.Popen[Any]:
        process = self.spawn([*GATEWAY, "worker", "--worker-id", "bench-worker"])
        assert process.stdout is not None
        for line in process.stdout:  # it says so once it serves the queues
            if b"serving the engine's queues" in line:
                break
        return process

    def start_serving(self) -> None:
        """The gateway and its engine: embedded on SQLite, one worker on PostgreSQL."""
        if self.database == "sqlite":
            self.start_gateway("embedded")
        else:
            self.start_gateway("off")
            self.start_worker()

    def stop(self, process: subprocess.Popen[Any]) -> None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.processes.remove(process)

    def close(self) -> None:
        for process in list(self.processes):
            self.stop(process)
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
        )

    def user(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=30
        )


def _empty_postgres(url: str) -> None:
    engine = create_engine(url.replace("+asyncpg", "+psycopg"))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS dbos CASCADE"))
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _postgres_reachable() -> bool:
    try:
        engine = create_engine(
            POSTGRES_URL.replace("+asyncpg", "+psycopg"), connect_args={"connect_timeout": 3}
        )
        with engine.connect():
            pass
        engine.dispose()
    except Exception:
        return False
    return True


def start_receiver() -> Receiver:
    port = free_loopback_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve-receiver", str(port)])
    receiver = Receiver(port, process)
    _wait_http(receiver.url + "/_received")
    return receiver


def stop_receiver(receiver: Receiver) -> None:
    receiver.process.terminate()
    receiver.process.wait(timeout=10)


@dataclass
class ProviderStack:
    """A deployment in front of both provider mocks (SweatStack sending its webhooks to the
    gateway), a user connected to both, fully backfilled, and the app's endpoint."""

    deployment: Deployment
    receiver: Receiver
    mocks: dict[str, str]
    tokens: dict[str, str]
    webhook_secret: str
    subject: str


@contextmanager
def provider_stack(database: str, astral_interval_s: float) -> Iterator[ProviderStack]:
    deployment = Deployment(database)
    receiver = start_receiver()
    webhook_secret = "whsec_" + secrets.token_urlsafe(24)
    mocks: dict[str, str] = {}
    tokens: dict[str, str] = {}
    try:
        for provider in ("sweatstack", "astral"):
            port = free_loopback_port()
            args = [*GATEWAY, "mock", provider, "--port", str(port), "--days", "14"]
            if provider == "sweatstack":
                hook = f"{deployment.url}/v1/hooks/sweatstack"
                args += ["--webhook-url", hook, "--webhook-secret", webhook_secret]
            process = deployment.spawn(args)
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith(b"token: "):
                    tokens[provider] = line.split(b" ", 1)[1].strip().decode()
                    break
            mocks[provider] = f"http://127.0.0.1:{port}"
            deployment.env[f"GATEWAY_{provider.upper()}_URL"] = mocks[provider]
            _wait_http(mocks[provider] + "/_mock/clock")
        deployment.env["GATEWAY_SWEATSTACK_WEBHOOK_SECRET"] = webhook_secret
        deployment.env["GATEWAY_ASTRAL_RECONCILE_INTERVAL_S"] = str(astral_interval_s)
        deployment.key = deployment.cli("users", "create", "bench").strip().splitlines()[-1]
        for provider, token in tokens.items():
            deployment.cli("connections", "set", "bench", provider, stdin=token + "\n")
        deployment.start_serving()
        with deployment.admin() as admin:
            created = admin.post("/v1/webhooks", json={"url": receiver.url + "/app"})
            created.raise_for_status()
        subject = _backfilled(deployment)
        yield ProviderStack(deployment, receiver, mocks, tokens, webhook_secret, subject)
    finally:
        deployment.close()
        stop_receiver(receiver)


def _backfilled(deployment: Deployment) -> str:
    """Once every backfill is done: the user's SweatStack subject."""
    deadline = time.monotonic() + 120
    with deployment.user() as client:
        while time.monotonic() < deadline:
            connections = client.get("/v1/connections").json()
            states = [s["backfill_status"] for c in connections for s in c["sync"]]
            if len(connections) == 2 and states and all(s == "done" for s in states):
                return str(next(c for c in connections if c["provider"] == "sweatstack")["subject"])
            time.sleep(0.2)
    raise RuntimeError("the backfills did not finish")


# the measurements


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure_ack(stack: ProviderStack, requests: int, per_s: float | None) -> dict[str, float]:
    """Signed SweatStack webhooks posted one at a time (back to back, or `per_s` a second),
    each a distinct delivery about one of the user's activities, so that its processing
    fetches it, as for a real one; then until every one has been processed."""
    listed = httpx.get(
        stack.mocks["sweatstack"] + "/api/v1/activities/",
        params={"limit": 50},
        headers={"Authorization": f"Bearer {stack.tokens['sweatstack']}"},
    ).json()
    ids = [activity["id"] for activity in listed]
    samples = []
    began_all = time.time()
    with httpx.Client(base_url=stack.deployment.url, timeout=30) as client:
        for n in range(requests + 5):
            if per_s:
                time.sleep(max(0.0, began_all + n / per_s - time.time()))
            body = json.dumps(
                {
                    "user_id": stack.subject,
                    "event_type": "activity_updated",
                    "resource_id": ids[n % len(ids)],
                    "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                }
            ).encode()
            t = int(time.time())
            headers = {
                "content-type": "application/json",
                "x-sweatstack-signature": f"t={t},v1={sign(stack.webhook_secret, body, t)}",
            }
            began = time.perf_counter()
            answer = client.post("/v1/hooks/sweatstack", content=body, headers=headers)
            elapsed = (time.perf_counter() - began) * 1000
            if answer.status_code != 202 or answer.json()["duplicate"]:
                raise RuntimeError(f"the webhook was answered {answer.status_code} {answer.text}")
            if n >= 5:  # the first few warm the connection and the gateway's paths
                samples.append(elapsed)
    # Then until every one of them has been processed (each fetched from the mock), so
    # that the next measurements start from an idle gateway.
    db = create_engine(stack.deployment.database_url)
    deadline = time.monotonic() + 300
    try:
        while True:
            with db.connect() as conn:
                left = conn.execute(
                    select(func.count()).where(inbound_webhooks.c.processed_at.is_(None))
                ).scalar_one()
            if not left:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{left} webhooks still unprocessed after 300 s")
            time.sleep(0.05)
    finally:
        db.dispose()
    processed_per_s = (requests + 5) / (time.time() - began_all)
    return {
        "p50": statistics.median(samples),
        "p99": percentile(samples, 0.99),
        "processed_per_s": processed_per_s,
    }


def webhook_retries(stack: ProviderStack) -> int:
    """Deliveries of the SweatStack mock's webhooks that took more than one attempt (the
    gateway did not answer 2xx within the mock's 2 s)."""
    shown = httpx.get(stack.mocks["sweatstack"] + "/_mock/webhooks").json()
    return sum(len(delivery["attempts"]) > 1 for delivery in shown["deliveries"])


def measure_change_to_event(
    stack: ProviderStack, provider: str, changes: int, pause: Callable[[], float]
) -> list[float]:
    """Seconds from an activity created in the provider's own app to the app's
    activity.created event; `pause()` is how long to wait before each change."""
    latencies = []
    with httpx.Client(base_url=stack.mocks[provider], timeout=30) as mock:
        for _ in range(changes):
            time.sleep(pause())
            began = time.time()
            made = mock.post("/_mock/changes", json={"kind": "create_activity"})
            made.raise_for_status()
            arrived = stack.receiver.wait_for(
                "activity.created", f"{provider}:{made.json()['resource_id']}"
            )
            latencies.append(arrived - began)
    return latencies


def measure_drain(database: str, endpoints: int, writes: int) -> dict[str, float]:
    """A backlog of endpoints x writes deliveries made while no engine runs, then one worker
    (the engine embedded in `gateway serve` on SQLite, `gateway worker` on PostgreSQL)."""
    deployment = Deployment(database)
    receiver = start_receiver()
    try:
        deployment.key = deployment.cli("users", "create", "bench").strip().splitlines()[-1]
        api = deployment.start_gateway("off")
        with deployment.admin() as admin:
            for n in range(endpoints):
                created = admin.post("/v1/webhooks", json={"url": f"{receiver.url}/app/{n}"})
                created.raise_for_status()
        _write_activities(deployment, writes)
        total = endpoints * writes
        db = create_engine(deployment.database_url)

        def delivered() -> int:
            with db.connect() as conn:
                query = select(func.count()).where(deliveries.c.status == "delivered")
                return int(conn.execute(query).scalar_one())

        time.sleep(1.0)  # the last hand-overs to the engine
        if database == "sqlite":  # one process holds SQLite: the gateway, its engine embedded
            deployment.stop(api)
            deployment.start_gateway("embedded")
        else:
            deployment.start_worker()
        while delivered() < total:
            time.sleep(0.05)
        done = time.time()
        records = receiver.poll()
        first = min(record["at"] for record in records)
        jobs = _delivery_jobs(deployment)
        db.dispose()
        return {
            "per_s": total / (done - first),
            "per_job": total / jobs if jobs else float("nan"),
            "sent": len(records) / total,
        }
    finally:
        deployment.close()
        stop_receiver(receiver)


def _write_activities(deployment: Deployment, writes: int) -> None:
    """Activities written at the `local` provider through the API (the first alone: the
    first writes of a connection race for its sync row on PostgreSQL)."""

    def write(numbers: range) -> None:
        with deployment.user() as client:
            for n in numbers:
                created = client.post(
                    "/v1/activities",
                    json={
                        "provider": "local",
                        "sport": "running",
                        "start": f"2026-10-{1 + n % 28:02d}T07:00:00+00:00",
                        "duration_s": 1800 + n,
                        "name": f"backlog {n}",
                    },
                )
                if created.status_code != 201:
                    raise RuntimeError(f"a write was answered {created.status_code}")

    write(range(1))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, [range(1 + k, writes, 8) for k in range(8)]))


def _delivery_jobs(deployment: Deployment) -> int:
    from dbos import DBOSClient

    from training_gateway.gateway.jobs import system_database_url
    from training_gateway.gateway.settings import load_settings

    client = DBOSClient(system_database_url=system_database_url(load_settings(deployment.env)))
    try:
        return len(client.list_workflows(name="deliver", load_input=False, load_output=False))
    finally:
        client.destroy()


# the report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--only", nargs="+", default=["ack", "e2e", "astral", "drain"])
    parser.add_argument("--requests", type=int, default=300, help="webhooks per ack run")
    parser.add_argument(
        "--ack-rate", type=float, default=10.0, help="webhooks a second, paced ack run"
    )
    parser.add_argument("--changes", type=int, default=15, help="SweatStack changes per run")
    parser.add_argument("--astral-changes", type=int, default=6, help="Astral changes per run")
    parser.add_argument("--astral-interval-s", type=float, default=5.0)
    parser.add_argument("--endpoints", type=int, default=10)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--serve-receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_receiver:
        serve_receiver(args.serve_receiver)
        return

    databases = list(args.databases)
    if "postgres" in databases and not _postgres_reachable():
        print(f"PostgreSQL at {POSTGRES_URL} is unreachable: SQLite only", file=sys.stderr)
        databases.remove("postgres")
    interval = args.astral_interval_s
    rows: dict[str, dict[str, float]] = {}

    def put(name: str, database: str, values: list[float]) -> None:
        rows.setdefault(name, {})[database] = statistics.median(values)

    for database in databases:
        runs: dict[str, list[float]] = {}
        for run in range(args.runs):
            print(f"{database}: run {run + 1} of {args.runs}", file=sys.stderr, flush=True)
            if {"ack", "e2e", "astral"} & set(args.only):
                with provider_stack(database, interval) as stack:
                    if "ack" in args.only:
                        ack = measure_ack(stack, args.requests, None)
                        runs.setdefault("ack p50", []).append(ack["p50"])
                        runs.setdefault("ack p99", []).append(ack["p99"])
                        runs.setdefault("inbound", []).append(ack["processed_per_s"])
                        paced = measure_ack(stack, args.requests // 2, args.ack_rate)
                        runs.setdefault("paced p50", []).append(paced["p50"])
                        runs.setdefault("paced p99", []).append(paced["p99"])
                    if "e2e" in args.only:
                        latencies = measure_change_to_event(
                            stack, "sweatstack", args.changes, lambda: 0.2
                        )
                        runs.setdefault("e2e p50", []).append(statistics.median(latencies))
                        runs.setdefault("e2e p99", []).append(percentile(latencies, 0.99))
                        runs.setdefault("retries", []).append(webhook_retries(stack))
                    if "astral" in args.only:
                        latencies = measure_change_to_event(
                            stack,
                            "astral",
                            args.astral_changes,
                            lambda: random.uniform(0, interval),
                        )
                        runs.setdefault("astral p50", []).append(statistics.median(latencies))
                        runs.setdefault("astral max", []).append(max(latencies))
            if "drain" in args.only:
                drain = measure_drain(database, args.endpoints, args.writes)
                runs.setdefault("drain", []).append(drain["per_s"])
                runs.setdefault("per job", []).append(drain["per_job"])
                runs.setdefault("sent", []).append(drain["sent"])
        for name, values in runs.items():
            put(name, database, values)

    labels = {
        "ack p50": ("webhook in, back to back: 202 p50 (ms)", 1.0, ""),
        "ack p99": ("webhook in, back to back: 202 p99 (ms)", 1.0, "< 20"),
        "inbound": ("  webhooks in processed/s (that burst)", 1.0, ""),
        "paced p50": (f"webhook in, {args.ack_rate:g}/s: 202 p50 (ms)", 1.0, ""),
        "paced p99": (f"webhook in, {args.ack_rate:g}/s: 202 p99 (ms)", 1.0, "< 20"),
        "e2e p50": ("SweatStack change -> event p50 (ms)", 1000.0, "< 1000"),
        "e2e p99": ("SweatStack change -> event p99 (ms)", 1000.0, ""),
        "retries": ("  SweatStack webhooks retried by the mock", 1.0, ""),
        "astral p50": (f"Astral change -> event p50 (s; interval {interval:g} s)", 1.0, ""),
        "astral max": ("Astral change -> event max (s)", 1.0, ""),
        "drain": (f"drain {args.endpoints}x{args.writes} backlog: deliveries/s", 1.0, ">= 500"),
        "per job": ("  deliveries per delivery job (mean)", 1.0, ""),
        "sent": ("  requests sent per delivery", 1.0, ""),
    }
    print(f"\nmedian of {args.runs} run(s); every server its own process")
    print(f"{'figure':52s}" + "".join(f"{d:>12s}" for d in databases) + f"{'goal':>10s}")
    for key, (label, scale, goal) in labels.items():
        if key not in rows:
            continue
        cells = "".join(
            f"{rows[key][d] * scale:12.2f}" if d in rows[key] else f"{'-':>12s}" for d in databases
        )
        print(f"{label:52s}{cells}{goal:>10s}")
    if "astral p50" in rows:
        for database in databases:
            ratio = rows["astral p50"].get(database, float("nan")) / interval
            print(f"  Astral p50 / reconcile interval ({database}): {ratio:.2f}")


if __name__ == "__main__":
    main()
