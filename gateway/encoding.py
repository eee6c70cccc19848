"""Content negotiation and encoders for tables: Parquet, Arrow IPC streams and columnar JSON,
whole or streamed one table at a time with bounded memory."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable, Sequence

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from training_gateway.models.errors import NotAcceptable

PARQUET = "application/vnd.apache.parquet"
ARROW_STREAM = "application/vnd.apache.arrow.stream"
JSON = "application/json"
TABLE_MEDIA_TYPES = (PARQUET, ARROW_STREAM, JSON)
STREAMED_MEDIA_TYPES = (PARQUET, ARROW_STREAM)
# Where a streamed answer lists what failed on the way: a Parquet footer key, or the custom
# metadata of the last (empty) Arrow batch.
ERRORS_METADATA_KEY = b"gateway.errors"


def negotiate(accept: str | None, offered: Sequence[str] = TABLE_MEDIA_TYPES) -> str:
    """The media type to answer with: the client's most preferred one we offer (the first
    offered when it has no preference); NotAcceptable when it accepts none of them."""
    if not accept or not accept.strip():
        return offered[0]
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, position, media.lower()))
    for negative_quality, _, media in sorted(ranked):
        if not -negative_quality > 0:  # q=0, negative or NaN: not acceptable
            continue
        if media in offered:
            return media
        if media in ("*/*", "application/*"):
            return offered[0]
    raise NotAcceptable("Accept", f"none of {accept!r} is offered; use one of {', '.join(offered)}")


def encode_table(table: pa.Table, media_type: str) -> bytes:
    """A whole table as Parquet (snappy), an Arrow IPC stream, or columnar JSON."""
    if media_type == PARQUET:
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="snappy")
        return sink.getvalue()
    if media_type == ARROW_STREAM:
        stream = pa.BufferOutputStream()
        with pa.ipc.new_stream(stream, table.schema) as writer:
            writer.write_table(table)
        return bytes(stream.getvalue())
    return msgspec.json.encode(columnar_json(table))


def columnar_json(table: pa.Table) -> dict[str, object]:
    """`{"columns": [...], "data": {column: [values...]}}`; timestamps as ISO 8601 strings."""
    return {"columns": table.column_names, "data": table.to_pydict()}


class _Chunks:
    """A write-only file object whose written bytes are taken out as they come."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | memoryview) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


async def stream_tables(
    tables: AsyncIterator[pa.Table],
    schema: pa.Schema,
    media_type: str,
    trailer: Callable[[], bytes],
) -> AsyncIterator[bytes]:
    """Encode tables as they come, never holding more than one of them. When they are done,
    `trailer()` is written at the end under ERRORS_METADATA_KEY: Parquet footer metadata, or
    the custom metadata of a last, empty Arrow batch."""
    chunks = _Chunks()
    if media_type == PARQUET:
        writer = pq.ParquetWriter(pa.PythonFile(chunks, mode="w"), schema, compression="snappy")
        async for table in tables:
            writer.write_table(table)
            yield chunks.take()
        writer.add_key_value_metadata({ERRORS_METADATA_KEY.decode(): trailer().decode()})
        writer.close()
        yield chunks.take()
        return
    with pa.ipc.new_stream(pa.PythonFile(chunks, mode="w"), schema) as ipc:
        async for table in tables:
            ipc.write_table(table)
            yield chunks.take()
        ipc.write_batch(
            pa.RecordBatch.from_pylist([], schema=schema),
            custom_metadata={ERRORS_METADATA_KEY: trailer()},
        )
    yield chunks.take()
