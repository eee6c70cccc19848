"""The gateway under heavy requests: does the event loop keep answering, and does memory come
back? (issue #11, "Memory and CPU").

    python benchmarks/load_hardening.py [--days 180] [--runs 3] [--uploads 4] [--upload-mib 240]

1. `/health` latency while a cold `GET /v1/activities/longitudinal-mean-max` runs over
   `--days` of history (each run asks for a duration not cached yet, so every activity's
   samples are fetched and its curve computed), against `/health` on an idle gateway.
2. The gateway's resident set before, at the peak of, and after `--uploads` concurrent
   multipart uploads of `--upload-mib` MiB each (files of 24 MiB that are refused once read,
   so the figure is the upload path's own memory, not the provider's).

The gateway and both mocks are separate processes (benchmarks/_stack.py); the mocks stand in
for remote providers, so they run at a lower priority (nice 10) than the gateway on this
shared machine. Figures are medians over `--runs`. The worker processes' peak is reported apart from the gateway's own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stack import start_stack
from longitudinal_memory import PeakSampler, rss_mib

FILE_MIB = 24


def children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class HealthProbe(threading.Thread):
    """GET /health every 10 ms until stopped; keeps each latency in ms."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.latencies, self._done = url, [], threading.Event()
        self.latencies: list[float]

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._done.is_set():
                began = time.perf_counter()
                client.get(self.url).raise_for_status()
                self.latencies.append((time.perf_counter() - began) * 1000)
                time.sleep(0.01)

    def stop(self) -> list[float]:
        self._done.set()
        self.join()
        return self.latencies


def health_during(url: str, work: object) -> tuple[list[float], float]:
    probe = HealthProbe(url + "/health")
    probe.start()
    time.sleep(0.2)
    began = time.perf_counter()
    work()  # type: ignore[operator]
    took = time.perf_counter() - began
    return probe.stop(), took


def wait_for_backfills(client: httpx.Client, timeout_s: float = 300) -> None:
    """Until the gateway has indexed the connections' history (it does so once connected):
    "idle" means idle."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = [
            s["backfill_status"] for c in client.get("/v1/connections").json() for s in c["sync"]
        ]
        if states and all(state == "done" for state in states):
            return
        time.sleep(0.5)
    raise SystemExit("the backfills did not finish")


def refused_fit(size: int) -> bytes:
    """A FIT file's 14-byte header announcing `size` bytes of records, then zeros: it is read
    in full and refused on its CRC."""
    header = bytearray(14)
    header[0], header[1] = 14, 0x20
    header[4:8] = (size - 16).to_bytes(4, "little")
    header[8:12] = b".FIT"
    return bytes(header) + b"\0" * (size - 14)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--uploads", type=int, default=4)
    parser.add_argument("--upload-mib", type=int, default=240)
    args = parser.parse_args()
    stack = start_stack(days=args.days, gateway_env={"GATEWAY_UPLOAD_WAIT_S": "120"})
    try:
        for mock in stack.processes[:-1]:
            os.setpriority(os.PRIO_PROCESS, mock.pid, 10)
        pid = stack.processes[-1].pid
        headers = {"Authorization": f"Bearer {stack.key}"}
        client = httpx.Client(base_url=stack.gateway_url, headers=headers, timeout=900)
        since = (datetime.now(UTC) - timedelta(days=args.days)).date().isoformat()
        wait_for_backfills(client)

        idle, _ = health_during(stack.gateway_url, lambda: time.sleep(3))
        during: list[float] = []
        seconds, activities = [], 0
        for run in range(args.runs):
            params = {
                "sport": "cycling",
                "metric": "power",
                "start": since,
                "durations": f"5,60,300,1200,{3000 + run}",
            }

            def query(params: dict[str, str] = params) -> None:
                nonlocal activities
                answer = client.get("/v1/activities/longitudinal-mean-max", params=params)
                answer.raise_for_status()
                body = answer.json()
                assert body["computed"] == body["activities"], body["computed"]
                activities = body["activities"]

            latencies, took = health_during(stack.gateway_url, query)
            during.extend(latencies)
            seconds.append(took)
        print(f"longitudinal mean-max over {args.days} days: {activities} rides, cold each run")
        print(f"{'':32} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'n':>6}")
        for name, values in (("/health idle", idle), ("/health during the query", during)):
            print(
                f"{name:32} {statistics.median(values):8.1f} {percentile(values, 0.99):8.1f} "
                f"{max(values):8.1f} {len(values):6d}"
            )
        print(
            f"query time, median of {args.runs}: {statistics.median(seconds):.2f} s; "
            f"p99 ratio during/idle: {percentile(during, 0.99) / percentile(idle, 0.99):.2f}x"
        )

        files = max(1, args.upload_mib // FILE_MIB)
        content = refused_fit(FILE_MIB * 1024 * 1024)
        before, peaks, afters, worker_peaks, statuses = [], [], [], [], []
        for _ in range(args.runs):
            before.append(rss_mib(pid))
            sampler = PeakSampler(pid)
            sampler.start()
            worker_peak = [0.0]
            stop = threading.Event()

            def watch_workers(
                peak: list[float] = worker_peak, stop: threading.Event = stop
            ) -> None:
                while not stop.is_set():
                    for child in children_of(pid):
                        try:
                            peak[0] = max(peak[0], rss_mib(child))
                        except (FileNotFoundError, RuntimeError, ProcessLookupError):
                            pass
                    time.sleep(0.02)

            watcher = threading.Thread(target=watch_workers, daemon=True)
            watcher.start()
            answers: list[int] = []

            def send(answers: list[int] = answers) -> None:
                with httpx.Client(base_url=stack.gateway_url, headers=headers, timeout=900) as c:
                    parts = [
                        ("files", (f"big-{i}.fit", content, "application/octet-stream"))
                        for i in range(files)
                    ]
                    response = c.post(
                        "/v1/activities/upload", data={"provider": "astral"}, files=parts
                    )
                    answers.append(response.status_code)

            senders = [threading.Thread(target=send) for _ in range(args.uploads)]
            for sender in senders:
                sender.start()
            for sender in senders:
                sender.join()
            peaks.append(sampler.stop())
            stop.set()
            watcher.join()
            worker_peaks.append(worker_peak[0])
            time.sleep(2)
            afters.append(rss_mib(pid))
            statuses.extend(answers)
        print()
        print(
            f"{args.uploads} concurrent uploads of {files} x {FILE_MIB} MiB "
            f"({files * FILE_MIB} MiB each), statuses {sorted(set(statuses))}"
        )
        print(f"{'gateway RSS MiB':32} {'before':>8} {'peak':>8} {'after':>8}")
        print(
            f"{'median of ' + str(args.runs) + ' runs':32} {statistics.median(before):8.0f} "
            f"{statistics.median(peaks):8.0f} {statistics.median(afters):8.0f}"
        )
        print(f"worker process peak RSS: {statistics.median(worker_peaks):.0f} MiB")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
