"""Peak memory of the gateway while it streams a year of 1 Hz data (GET
/v1/activities/longitudinal-data), against the size of that year held whole.

    python benchmarks/longitudinal_memory.py [--days 365] [--runs 3]

The gateway and both mocks (seeded with `--days` of history) run as separate processes; the
gateway's resident set is read from /proc while the stream is consumed chunk by chunk.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stack import start_stack


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


class PeakSampler(threading.Thread):
    """Samples a process's resident set every few milliseconds; keeps the largest."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self._done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.005)

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    stack = start_stack(days=args.days)
    try:
        gateway_pid = stack.processes[-1].pid
        client = httpx.Client(
            base_url=stack.gateway_url,
            headers={"Authorization": f"Bearer {stack.key}"},
            timeout=600,
        )
        since = (datetime.now(UTC) - timedelta(days=args.days)).date().isoformat()
        baseline = rss_mib(gateway_pid)
        peaks, seconds, body = [], [], b""
        for _ in range(args.runs):
            sampler = PeakSampler(gateway_pid)
            sampler.start()
            began = time.perf_counter()
            chunks = []
            with client.stream(
                "GET", "/v1/activities/longitudinal-data", params={"start": since}
            ) as response:
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
            seconds.append(time.perf_counter() - began)
            peaks.append(sampler.stop())
            body = b"".join(chunks)
        table = pq.read_table(io.BytesIO(body))
        activities = len(set(table.column("activity_id").to_pylist()))
        print(
            f"history: {args.days} days, {activities} activities, {table.num_rows:,} rows x {table.num_columns} columns"
        )
        print(
            f"the year held whole (Arrow, in memory): {table.nbytes / 2**20:8.1f} MiB; Parquet on the wire: {len(body) / 2**20:.1f} MiB"
        )
        print(f"gateway RSS before streaming:           {baseline:8.1f} MiB")
        print(
            f"gateway peak RSS while streaming:       {statistics.median(peaks):8.1f} MiB (median of {args.runs}; max {max(peaks):.1f})"
        )
        growth = statistics.median(peaks) - baseline
        print(
            f"growth over baseline:                   {growth:8.1f} MiB = {growth / (table.nbytes / 2**20):.2f}x the data held whole"
        )
        print(
            f"stream time:                            {statistics.median(seconds):8.2f} s (median)"
        )
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
