"""Gateway overhead: latency of GET /v1/activities/{id} and of the merged list through the
gateway, against the same calls made directly to the mocks, in the same run.

Then the same with latency injected into each mock: the fan-out is concurrent when the
merged list costs about one provider's latency, not the sum.

    python benchmarks/gateway_overhead.py [--requests 200] [--runs 5] [--latency-ms 50]

Each process (two mocks, the gateway, this client) runs on its own; figures are the median
over runs of each run's median and p99, in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stack import Stack, start_stack


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(call: Callable[[], httpx.Response], n: int) -> list[float]:
    call()  # warm the connection
    samples = []
    for _ in range(n):
        begin = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - begin) * 1000)
        if response.status_code != 200:
            raise RuntimeError(
                f"{response.request.url} answered {response.status_code}: {response.text[:200]}"
            )
    return samples


def scenarios(stack: Stack) -> dict[str, Callable[[], httpx.Response]]:
    gw = httpx.Client(
        base_url=stack.gateway_url, headers={"Authorization": f"Bearer {stack.key}"}, timeout=30
    )
    ss = httpx.Client(
        base_url=stack.mock_urls["sweatstack"],
        headers={"Authorization": f"Bearer {stack.mock_tokens['sweatstack']}"},
    )
    astral = httpx.Client(
        base_url=stack.mock_urls["astral"],
        headers={"Authorization": f"Bearer {stack.mock_tokens['astral']}"},
    )
    ride_id = ss.get("/api/v1/activities/", params={"limit": 1}).json()[0]["id"]
    return {
        "get via gateway": lambda: gw.get(f"/v1/activities/sweatstack:{ride_id}"),
        "get direct (sweatstack mock)": lambda: ss.get(f"/api/v1/activities/{ride_id}"),
        "list 50 via gateway (2 providers)": lambda: gw.get("/v1/activities", params={"limit": 50}),
        "list 50 direct (sweatstack mock)": lambda: ss.get(
            "/api/v1/activities/", params={"limit": 51}
        ),
        "list 50 direct (astral mock)": lambda: astral.get(
            "/api/v1/activities", params={"limit": 51}
        ),
    }


def measure(stack: Stack, requests: int, runs: int) -> dict[str, tuple[float, float]]:
    calls = scenarios(stack)
    per_run: dict[str, list[tuple[float, float]]] = {name: [] for name in calls}
    for run in range(runs):
        names = list(calls)
        order = (
            names[run % len(names) :] + names[: run % len(names)]
        )  # rotate, so no call always goes first
        for name in order:
            samples = timed(calls[name], requests)
            per_run[name].append((statistics.median(samples), percentile(samples, 0.99)))
    return {
        name: (statistics.median(m for m, _ in rows), statistics.median(p for _, p in rows))
        for name, rows in per_run.items()
    }


def report(title: str, figures: dict[str, tuple[float, float]]) -> None:
    print(f"\n{title}")
    print(f"{'scenario':40s} {'median ms':>10s} {'p99 ms':>10s}")
    for name, (median, p99) in figures.items():
        print(f"{name:40s} {median:10.2f} {p99:10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()

    stack = start_stack()
    try:
        plain = measure(stack, args.requests, args.runs)
    finally:
        stack.stop()
    report(f"No injected latency ({args.runs} runs x {args.requests} requests)", plain)
    get_ratio = plain["get via gateway"][0] / plain["get direct (sweatstack mock)"][0]
    slowest_direct = max(
        plain["list 50 direct (sweatstack mock)"][0], plain["list 50 direct (astral mock)"][0]
    )
    print(
        f"get: gateway/direct median ratio {get_ratio:.2f}x, overhead {plain['get via gateway'][0] - plain['get direct (sweatstack mock)'][0]:.2f} ms"
    )
    print(
        f"list: gateway/slowest-direct median ratio {plain['list 50 via gateway (2 providers)'][0] / slowest_direct:.2f}x"
    )

    stack = start_stack(latency_ms=args.latency_ms)
    try:
        slow = measure(stack, max(20, args.requests // 4), args.runs)
    finally:
        stack.stop()
    report(f"{args.latency_ms:.0f} ms injected on each mock", slow)
    listed = slow["list 50 via gateway (2 providers)"][0]
    direct = [slow["list 50 direct (sweatstack mock)"][0], slow["list 50 direct (astral mock)"][0]]
    print(
        f"merged list {listed:.1f} ms vs slowest provider {max(direct):.1f} ms (ratio {listed / max(direct):.2f}) "
        f"and sum of providers {sum(direct):.1f} ms (ratio {listed / sum(direct):.2f}): "
        + ("concurrent" if listed < 0.75 * sum(direct) else "NOT concurrent")
    )


if __name__ == "__main__":
    main()
