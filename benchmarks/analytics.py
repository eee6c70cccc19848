"""Analytics: mean-max (fast exact vs reference), FIT decoding, and emitting a timeseries.

    python benchmarks/analytics.py [--runs 5] [--only mean-max fit emit]

1. `mean_max_curve` against `mean_max_reference` on a 6 h 1 Hz ride (power with coasting zeros
   and surges; speed and heart rate with sensor dropouts), for every duration 1..21,600 s and for
   the `durations=all` grid, timed alternately in the same run; the results are checked equal
   bit for bit. Two series with long near-ties (a steady ERG ride, ERG intervals) show the method's
   weak case.
2. Decoding a generated 1 h and 6 h FIT file: `models.fit.decode_fit` (records read in
   fixed-stride runs with numpy, the rest by Garmin's FIT SDK, anycrc CRC, the Arrow table),
   the same on the SDK alone, and the raw decoders we compared (messages only), each with its
   time as a multiple of decode_fit's.
3. Writing a 6 h activity table in the unified schema to bytes: Parquet (snappy) vs an Arrow IPC
   stream.

Figures are medians over runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from training_gateway.adapters._mock.synthetic import encode_fit, synthetic_activity
from training_gateway.models.fit import decode_fit
from training_gateway.models.mean_max import all_durations_s, mean_max_curve, mean_max_reference

SIX_HOURS_S = 6 * 3600


def median_ms(call: Callable[[], Any], runs: int) -> float:
    samples = []
    for _ in range(runs):
        begin = time.perf_counter()
        call()
        samples.append((time.perf_counter() - begin) * 1000)
    return statistics.median(samples)


def side_by_side(
    fast: Callable[[], Any], reference: Callable[[], Any], runs: int
) -> tuple[float, float]:
    """Medians of alternating runs, so both see the same machine state."""
    fast(), reference()  # warm up
    fast_ms, reference_ms = [], []
    for _ in range(runs):
        fast_ms.append(median_ms(fast, 1))
        reference_ms.append(median_ms(reference, 1))
    return statistics.median(fast_ms), statistics.median(reference_ms)


def as_series(table: pa.Table, column: str) -> np.ndarray:
    return table.column(column).to_numpy(zero_copy_only=False).astype(np.float64)


def erg_series(seed: int) -> dict[str, np.ndarray]:
    """Trainer rides in ERG mode: the trainer holds the target, so many windows nearly tie."""
    rng = np.random.default_rng(seed)
    t = np.arange(SIX_HOURS_S)
    steady = 200 + rng.normal(0, 6, t.size)
    blocks = 150 + 150 * ((t % 900) < 300) + rng.normal(0, 8, t.size)
    return {"power, ERG steady": np.rint(steady), "power, ERG 5-min blocks": np.rint(blocks)}


def bench_mean_max(runs: int) -> None:
    records = synthetic_activity(SIX_HOURS_S, sport="cycling.road", seed=42).records
    every = np.arange(1, SIX_HOURS_S + 1)
    grid = np.array(all_durations_s(SIX_HOURS_S))
    series = {metric: as_series(records, metric) for metric in ("power", "speed", "heart_rate")}
    print("mean-max, 6 h at 1 Hz (21,600 samples): fast exact vs reference")
    print(f"  {'series':26s} {'durations':>16s} {'fast ms':>9s} {'ref ms':>9s} {'ratio':>7s}")
    hard = erg_series(7)
    for name, x in [*series.items(), *hard.items()]:
        gaps = int(np.isnan(x).sum())
        label = f"{name} ({gaps} NaN)" if gaps else name
        for what, durations in (("1..21,600", every), (f"all grid ({grid.size})", grid)):
            best, start = mean_max_curve(x, durations)
            ref_best, ref_start = mean_max_reference(x, durations)
            same = np.array_equal(best.view(np.int64), ref_best.view(np.int64)) and np.array_equal(
                start, ref_start
            )
            if not same:
                raise SystemExit(f"mean_max_curve differs from the reference on {name}, {what}")
            n = runs if durations.size > 1000 else 3 * runs
            fast_ms, ref_ms = side_by_side(
                partial(mean_max_curve, x, durations), partial(mean_max_reference, x, durations), n
            )
            print(
                f"  {label:26s} {what:>16s} {fast_ms:9.1f} {ref_ms:9.1f} {ref_ms / fast_ms:6.1f}x"
            )
        if name == "heart_rate":
            print("  -- near-ties (the method's weak case) --")


def raw_decoders(data: bytes) -> dict[str, Callable[[], int]]:
    """Each decoder reading every message; they return the number of records."""
    decoders: dict[str, Callable[[], int]] = {}

    def garmin() -> int:
        from garmin_fit_sdk import Decoder, Stream

        messages, errors = Decoder(Stream.from_byte_array(bytearray(data))).read()
        assert not errors, errors
        return len(messages["record_mesgs"])

    decoders["garmin-fit-sdk (read(), its own CRC)"] = garmin
    try:
        import fitdecode

        def fitdecode_records() -> int:
            count = 0
            with fitdecode.FitReader(io.BytesIO(data)) as reader:
                for frame in reader:
                    if frame.frame_type == fitdecode.FIT_FRAME_DATA and frame.name == "record":
                        count += len({f.name: f.value for f in frame.fields}) > 0
            return count

        decoders["fitdecode"] = fitdecode_records
    except ImportError:
        pass
    try:
        import fitparse

        def fitparse_records() -> int:
            fit = fitparse.FitFile(io.BytesIO(data))
            return sum(1 for m in fit.get_messages("record") if m.get_values())

        decoders["python-fitparse"] = fitparse_records
    except ImportError:
        pass
    try:
        from fit_tool.fit_file import FitFile
        from fit_tool.profile.messages.record_message import RecordMessage

        def fit_tool_records() -> int:
            fit = FitFile.from_bytes(data)
            return sum(1 for r in fit.records if isinstance(r.message, RecordMessage))

        decoders["fit-tool"] = fit_tool_records
    except ImportError:
        pass
    return decoders


def bench_fit(runs: int) -> None:
    from unittest import mock

    from training_gateway.models import fit

    for hours in (1, 6):
        activity = synthetic_activity(hours * 3600, sport="cycling.road", seed=1)
        data = encode_fit(activity)
        decoded = decode_fit(data, filename="ride.fit")
        print(
            f"\nFIT decode, {hours} h ride at 1 Hz ({len(data):,} bytes, "
            f"{decoded.records.num_rows} records); ratio = that decoder's time / decode_fit's"
        )
        fast = median_ms(partial(decode_fit, data, filename="ride.fit"), runs)
        print(f"  {'decode_fit (records in runs, numpy)':40s} {fast:8.1f} ms")

        def sdk_alone(data: bytes = data) -> object:
            with mock.patch.object(fit, "split_records", lambda _data: None):
                return decode_fit(data, filename="ride.fit")

        sdk = median_ms(sdk_alone, runs)
        print(f"  {'decode_fit on the SDK alone':40s} {sdk:8.1f} ms {sdk / fast:7.1f}x")
        for name, decoder in raw_decoders(data).items():
            decoder()
            slow = name == "fit-tool"  # seconds per decode: once is enough
            ms = median_ms(decoder, 1 if slow else runs)
            print(f"  {name:40s} {ms:8.1f} ms {ms / fast:7.1f}x")


def bench_emit(runs: int) -> None:
    table = synthetic_activity(SIX_HOURS_S, sport="cycling.road", seed=42).records

    def parquet() -> bytes:
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="snappy")
        return sink.getvalue().to_pybytes()

    def arrow_stream() -> bytes:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return sink.getvalue().to_pybytes()

    print(f"\nEmit a 6 h activity table ({table.num_rows:,} rows x {table.num_columns} columns)")
    for name, emit in (("Parquet (snappy)", parquet), ("Arrow IPC stream", arrow_stream)):
        size = len(emit())
        print(f"  {name:20s} {median_ms(emit, 3 * runs):8.2f} ms  {size:>10,} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=["mean-max", "fit", "emit"])
    args = parser.parse_args()
    only = set(args.only or ["mean-max", "fit", "emit"])
    if "mean-max" in only:
        bench_mean_max(args.runs)
    if "fit" in only:
        bench_fit(args.runs)
    if "emit" in only:
        bench_emit(args.runs)


if __name__ == "__main__":
    main()
