"""A bounded mixed load on the gateway while its providers misbehave: every process separate.

Both mocks and the gateway run as their own processes (benchmarks/_stack.py); this process is
the load: lists, gets, creates, patches and deletes of activities and lab tests, FIT uploads,
mean-max and data reads, heart-rate fits, from concurrent clients, while a fault task keeps
making a random mock slow, failing (502/503 on reads), throttling (429 with Retry-After) or
garbling its answers, through the mocks' loopback control route.

It prints requests per second, p50 and p99 latency, the count of 5xx answers (the gateway's
own 500s apart from the ones it names a provider for), the acknowledged writes checked at the
end (lost must be 0), and the gateway's RSS at the start and the end.

    python benchmarks/soak.py              # 10 minutes
    python benchmarks/soak.py --minutes 1 --clients 8
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stack import Stack, start_stack

from training_gateway.adapters._mock.faults import CONTROL_PATH
from training_gateway.adapters._mock.synthetic import encode_fit, synthetic_activity

MERGE = {"Content-Type": "application/merge-patch+json"}


@dataclass
class Ledger:
    """Every write the gateway acknowledged, to check at the end that each one held."""

    activities: dict[str, str] = field(default_factory=dict)  # id -> name it must have
    tests: dict[str, str] = field(default_factory=dict)  # id -> title it must have
    deleted_activities: set[str] = field(default_factory=set)
    deleted_tests: set[str] = field(default_factory=set)


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    provider_errors: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)  # "op status: detail"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Load:
    def __init__(self, stack: Stack, results: Results, ledger: Ledger, seed: int) -> None:
        self.stack = stack
        self.results = results
        self.ledger = ledger
        self.random = random.Random(seed)
        self.fit = encode_fit(synthetic_activity(900, sport="cycling", seed=seed))
        self.known: list[str] = []

    async def call(
        self, http: httpx.AsyncClient, op: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        began = time.perf_counter()
        try:
            response = await http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            self.results.server_errors.append(f"{op}: no answer ({type(exc).__name__})")
            return None
        self.results.latencies[op].append(time.perf_counter() - began)
        self.results.statuses[response.status_code] += 1
        if 400 <= response.status_code < 500:
            detail = response.json().get("detail", "") if response.content else ""
            self.results.refusals[f"{op} {response.status_code}: {detail[:90]}"] += 1
        if response.status_code >= 500:
            body = (
                response.json() if response.headers.get("content-type", "").endswith("json") else {}
            )
            if response.status_code != 500 and body.get("provider"):
                self.results.provider_errors[f"{response.status_code} {body['provider']}"] += 1
            else:
                self.results.server_errors.append(
                    f"{op}: {response.status_code} {response.text[:200]}"
                )
        return response

    async def client(self, stop_at: float) -> None:
        headers = {"Authorization": f"Bearer {self.stack.key}"}
        async with httpx.AsyncClient(
            base_url=self.stack.gateway_url, headers=headers, timeout=60
        ) as http:
            while time.monotonic() < stop_at:
                op = self.random.choices(list(OPS), weights=list(OPS.values()))[0]
                await getattr(self, op)(http)

    # the operations

    async def list_activities(self, http: httpx.AsyncClient) -> None:
        response = await self.call(
            http, "list_activities", "GET", "/v1/activities", params={"limit": 50}
        )
        if response is not None and response.status_code == 200:
            items = response.json()["items"]
            self.known = [i["id"] for i in items if i["status"] == "completed"] or self.known

    async def get_activity(self, http: httpx.AsyncClient) -> None:
        if self.known:
            await self.call(
                http, "get_activity", "GET", f"/v1/activities/{self.random.choice(self.known)}"
            )

    async def mean_max(self, http: httpx.AsyncClient) -> None:
        if self.known:
            target = self.random.choice(self.known)
            await self.call(
                http,
                "mean_max",
                "GET",
                f"/v1/activities/{target}/mean-max",
                params={"metric": "heart_rate", "durations": "60,300"},
            )

    async def data(self, http: httpx.AsyncClient) -> None:
        if self.known:
            target = self.random.choice(self.known)
            await self.call(
                http,
                "data",
                "GET",
                f"/v1/activities/{target}/data",
                params={"metrics": "heart_rate"},
            )

    async def hr_fit(self, http: httpx.AsyncClient) -> None:
        if self.known:
            target = self.random.choice(self.known)
            await self.call(http, "hr_fit", "POST", f"/v1/activities/{target}/hr-model", json={})

    async def write_activity(self, http: httpx.AsyncClient) -> None:
        provider = self.random.choice(["local", "astral"])
        name = f"soak {self.random.randrange(10**9)}"
        body = {
            "provider": provider,
            "sport": "running",
            "start": "2026-06-01T07:00:00+02:00",
            "duration_s": 1800,
            "name": name,
        }
        created = await self.call(http, "create_activity", "POST", "/v1/activities", json=body)
        if created is None or created.status_code != 201:
            return
        activity_id = created.json()["id"]
        self.ledger.activities[activity_id] = name
        if self.random.random() < 0.6:
            renamed = name + " renamed"
            patched = await self.call(
                http,
                "patch_activity",
                "PATCH",
                f"/v1/activities/{activity_id}",
                json={"name": renamed},
                headers=MERGE,
            )
            if patched is not None and patched.status_code == 200:
                self.ledger.activities[activity_id] = renamed
        if self.random.random() < 0.4:
            gone = await self.call(
                http, "delete_activity", "DELETE", f"/v1/activities/{activity_id}"
            )
            if gone is not None and gone.status_code == 204:
                self.ledger.deleted_activities.add(activity_id)
                del self.ledger.activities[activity_id]

    async def write_test(self, http: httpx.AsyncClient) -> None:
        provider = self.random.choice(["local", "sweatstack"])
        title = f"soak test {self.random.randrange(10**9)}"
        body = {
            "provider": provider,
            "sport": "cycling",
            "start": "2026-06-02T09:00:00+02:00",
            "title": title,
            "results": {"vo2max": 4000},
        }
        created = await self.call(http, "create_test", "POST", "/v1/tests", json=body)
        if created is None or created.status_code != 201:
            return
        test_id = created.json()["id"]
        self.ledger.tests[test_id] = title
        if self.random.random() < 0.5:
            retitled = title + " again"
            patched = await self.call(
                http,
                "patch_test",
                "PATCH",
                f"/v1/tests/{test_id}",
                json={"title": retitled},
                headers=MERGE,
            )
            if patched is not None and patched.status_code == 200:
                self.ledger.tests[test_id] = retitled
        if self.random.random() < 0.3:
            gone = await self.call(http, "delete_test", "DELETE", f"/v1/tests/{test_id}")
            if gone is not None and gone.status_code == 204:
                self.ledger.deleted_tests.add(test_id)
                del self.ledger.tests[test_id]

    async def upload(self, http: httpx.AsyncClient) -> None:
        name = f"soak-{self.random.randrange(10**9)}.fit"
        response = await self.call(
            http,
            "upload",
            "POST",
            "/v1/activities/upload",
            data={"provider": "astral"},
            files={"files": (name, self.fit, "application/vnd.ant.fit")},
        )
        if response is not None and response.status_code == 201:
            for item in response.json()["items"]:
                self.ledger.activities[item["id"]] = item["name"]

    async def list_tests(self, http: httpx.AsyncClient) -> None:
        await self.call(http, "list_tests", "GET", "/v1/tests", params={"limit": 50})

    # the faults

    async def faults(self, stop_at: float) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            while time.monotonic() < stop_at:
                await asyncio.sleep(self.random.uniform(1.0, 4.0))
                name = self.random.choice(list(self.stack.mock_urls))
                url = self.stack.mock_urls[name] + CONTROL_PATH
                kind = self.random.choice(["fail", "throttle", "slow", "clear"])
                change: dict[str, Any]
                if kind == "fail":
                    change = {
                        "fail_next": {
                            "status": self.random.choice([502, 503]),
                            "times": 1,
                            "methods": ["GET"],
                        }
                    }
                elif kind == "throttle":
                    change = {
                        "fail_next": {
                            "status": 429,
                            "times": 1,
                            "methods": ["GET"],
                            "headers": {"Retry-After": "0"},
                        }
                    }
                elif kind == "slow":
                    change = {"latency_ms": self.random.uniform(10, 150)}
                else:
                    change = {"reset": True}
                await http.post(url, json=change)
                self.results.faults[kind] += 1
            for url in self.stack.mock_urls.values():
                await http.post(url + CONTROL_PATH, json={"reset": True})

    # the check

    async def lost_writes(self) -> list[str]:
        lost = []
        headers = {"Authorization": f"Bearer {self.stack.key}"}
        async with httpx.AsyncClient(
            base_url=self.stack.gateway_url, headers=headers, timeout=60
        ) as http:
            for activity_id, name in self.ledger.activities.items():
                got = await http.get(f"/v1/activities/{activity_id}")
                if got.status_code != 200 or got.json()["name"] != name:
                    lost.append(f"{activity_id}: {got.status_code}")
            for test_id, title in self.ledger.tests.items():
                got = await http.get(f"/v1/tests/{test_id}")
                if got.status_code != 200 or got.json()["title"] != title:
                    lost.append(f"{test_id}: {got.status_code}")
            gone = [("activities", i) for i in self.ledger.deleted_activities]
            gone += [("tests", i) for i in self.ledger.deleted_tests]
            for kind, record_id in gone:
                got = await http.get(f"/v1/{kind}/{record_id}")
                if got.status_code != 404:
                    lost.append(f"{record_id}: deleted, but answers {got.status_code}")
        return lost


OPS = {
    "list_activities": 25,
    "get_activity": 15,
    "mean_max": 6,
    "data": 6,
    "hr_fit": 3,
    "write_activity": 12,
    "write_test": 8,
    "upload": 2,
    "list_tests": 8,
}


async def soak(minutes: float, clients: int, seed: int) -> None:
    stack = start_stack(seed=seed)
    gateway_pid = stack.processes[-1].pid
    try:
        results, ledger = Results(), Ledger()
        load = Load(stack, results, ledger, seed)
        rss_start = rss_kib(gateway_pid)
        began = time.monotonic()
        stop_at = began + minutes * 60
        await asyncio.gather(load.faults(stop_at), *(load.client(stop_at) for _ in range(clients)))
        elapsed = time.monotonic() - began
        rss_end = rss_kib(gateway_pid)
        lost = await load.lost_writes()
    finally:
        stack.stop()
    everything = [t for values in results.latencies.values() for t in values]
    total = len(everything)
    print(f"soak: {minutes:g} min, {clients} clients, seed {seed}")
    print(f"requests: {total} in {elapsed:.0f} s = {total / elapsed:.1f} req/s")
    quantiles = statistics.quantiles(everything, n=100) if total > 1 else [0.0] * 99
    print(f"latency: p50 {quantiles[49] * 1000:.1f} ms, p99 {quantiles[98] * 1000:.1f} ms")
    for op, values in sorted(results.latencies.items()):
        q = statistics.quantiles(values, n=100) if len(values) > 1 else [values[0]] * 99
        print(
            f"  {op:16} n={len(values):6}  p50 {q[49] * 1000:8.1f} ms  p99 {q[98] * 1000:8.1f} ms"
        )
    print(f"statuses: {dict(sorted(results.statuses.items()))}")
    print(f"faults injected: {dict(results.faults)}")
    for refusal, count in results.refusals.most_common(5):
        print(f"  refused x{count}: {refusal}")
    print(
        f"5xx: {sum(n for s, n in results.statuses.items() if s >= 500)} "
        f"(naming a provider: {dict(results.provider_errors)}; the gateway's own: {len(results.server_errors)})"
    )
    for error in results.server_errors[:10]:
        print(f"  {error}")
    writes = len(ledger.activities) + len(ledger.tests)
    writes += len(ledger.deleted_activities) + len(ledger.deleted_tests)
    print(f"acknowledged writes checked: {writes}, lost: {len(lost)}")
    for item in lost[:10]:
        print(f"  {item}")
    print(f"gateway RSS: {rss_start / 1024:.0f} MiB at start, {rss_end / 1024:.0f} MiB at end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(soak(args.minutes, args.clients, args.seed))


if __name__ == "__main__":
    main()
