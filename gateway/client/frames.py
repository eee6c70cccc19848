"""Timeseries answers as frames: a pyarrow Table (the default), or a pandas or polars
DataFrame when that library is installed (`output="pandas"`, `output="polars"`).

The gateway answers samples as an Arrow IPC stream (asked for by `Accept`); a streamed
longitudinal answer lists what failed on its way in the custom metadata of its last, empty
batch (`gateway.errors`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import msgspec
import pyarrow as pa

from training_gateway.gateway.encoding import ARROW_STREAM, ERRORS_METADATA_KEY
from training_gateway.gateway.wire import ProviderFailure

if TYPE_CHECKING:
    import pandas
    import polars

Output = Literal["pyarrow", "pandas", "polars"]
OUTPUTS: tuple[str, ...] = ("pyarrow", "pandas", "polars")
#: Where a table keeps who segmented it (the `Segmented-By` header): schema metadata.
SEGMENTED_BY_KEY = b"gateway.segmented_by"
ACCEPT = ARROW_STREAM

F = TypeVar("F", "pa.Table", "pandas.DataFrame", "polars.DataFrame")


class MissingFrameLibrary(ImportError):
    """`output=` named a frame library that is not installed."""


@dataclass
class LongitudinalData(Generic[F]):
    """The samples of every matching activity, and the providers or activities that failed
    on the way (the other activities' samples are all there)."""

    frame: F
    errors: list[ProviderFailure] = field(default_factory=list)


def check_output(output: str) -> None:
    """Refuse an unknown `output=` before any request is sent."""
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, not {output!r}")


def read_table(data: bytes, *, segmented_by: str | None = None) -> pa.Table:
    """An Arrow IPC stream as one table; `segmented_by` kept in its schema metadata."""
    table = pa.ipc.open_stream(data).read_all()
    if segmented_by is not None:
        metadata = {**(table.schema.metadata or {}), SEGMENTED_BY_KEY: segmented_by.encode()}
        table = table.replace_schema_metadata(metadata)
    return table


def read_longitudinal(data: bytes) -> tuple[pa.Table, list[ProviderFailure]]:
    """A streamed longitudinal answer: its batches as one table, and the failures its last
    batch lists."""
    reader = pa.ipc.open_stream(data)
    batches: list[pa.RecordBatch] = []
    errors: list[ProviderFailure] = []
    while True:
        try:
            batch, metadata = reader.read_next_batch_with_custom_metadata()
        except StopIteration:
            break
        if batch.num_rows:
            batches.append(batch)
        if metadata is not None and ERRORS_METADATA_KEY in metadata:
            errors = msgspec.json.decode(metadata[ERRORS_METADATA_KEY], type=list[ProviderFailure])
    return pa.Table.from_batches(batches, schema=reader.schema), errors


def convert(table: pa.Table, output: str) -> Any:
    """The table as the frame `output` names."""
    if output == "pyarrow":
        return table
    if output == "pandas":
        _require("pandas")
        frame = table.to_pandas()
        metadata = table.schema.metadata or {}
        if SEGMENTED_BY_KEY in metadata:
            frame.attrs["segmented_by"] = metadata[SEGMENTED_BY_KEY].decode()
        return frame
    if output == "polars":
        polars = _require("polars")
        return polars.from_arrow(table)
    check_output(output)
    raise AssertionError("unreachable")


def _require(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingFrameLibrary(
            f"output={name!r} needs {name}, which is not installed: pip install {name} "
            f"(or use output='pyarrow', which needs nothing more)"
        ) from exc
