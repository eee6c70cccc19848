"""Reading a FIT file's `record` messages with numpy, many at a time.

A FIT file is a stream of messages, each a header byte and the fields its local definition
lays out. Devices write the records of an activity as long runs of data messages sharing one
definition, so each run is fixed-stride: the same header byte, then the same bytes in the same
places, every `stride` bytes. Such a run is read as one numpy structured array, where Garmin's
SDK decodes message by message in Python (about 100 us each).

`split_records` walks the stream message by message only where it must (definitions and the
other, few, messages), reads each run of records in one pass, and returns the file without its
records, for the SDK to decode what remains (sessions, laps, device info). It gives up (None),
so that the caller decodes the whole file with the SDK, wherever this reader would not give
the SDK's answer exactly: chained files, compressed timestamp headers, heart rates in separate
`hr` messages (the SDK merges them into the records), record fields it would expand from
components into the columns used here (`compressed_speed_distance`), arrays or non-integer
base types in those columns, and anything malformed, so that the SDK reports it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RECORD = 20  # global message numbers
HR = 132
COMPRESSED_SPEED_DISTANCE = 8
# FIT field number of each record field read here, and its scale and offset in Garmin's profile.
FIELDS: dict[str, tuple[int, int, int]] = {
    "timestamp": (253, 1, 0),
    "position_lat": (0, 1, 0),
    "position_long": (1, 1, 0),
    "altitude": (2, 5, 500),
    "heart_rate": (3, 1, 0),
    "cadence": (4, 1, 0),
    "distance": (5, 100, 0),
    "speed": (6, 1000, 0),
    "power": (7, 1, 0),
    "enhanced_speed": (73, 1000, 0),
    "enhanced_altitude": (78, 5, 500),
}
_BY_NUMBER = {number: name for name, (number, _scale, _offset) in FIELDS.items()}
# Integer base types (the low five bits of a field's base type byte): numpy kind and size, and
# the value that means "invalid".
_INTEGER_TYPES: dict[int, tuple[str, int]] = {
    0x00: ("u1", 0xFF),  # enum
    0x01: ("i1", 0x7F),
    0x02: ("u1", 0xFF),
    0x03: ("i2", 0x7FFF),
    0x04: ("u2", 0xFFFF),
    0x05: ("i4", 0x7FFFFFFF),
    0x06: ("u4", 0xFFFFFFFF),
    0x0A: ("u1", 0),  # uint8z
    0x0B: ("u2", 0),
    0x0C: ("u4", 0),
    0x0E: ("i8", 0x7FFFFFFFFFFFFFFF),
    0x0F: ("u8", 0xFFFFFFFFFFFFFFFF),
    0x10: ("u8", 0),
}
# Every base type the SDK knows, by its size in bytes (a definition naming another is an error
# the SDK reports).
_BASE_SIZES = {**{t: int(kind[1]) for t, (kind, _) in _INTEGER_TYPES.items()}, 0x07: 1, 0x08: 4}
_BASE_SIZES |= {0x09: 8, 0x0D: 1}
# Fields the SDK expands into another (speed into enhanced_speed, altitude into
# enhanced_altitude) reading their bits as the profile's base type (uint16): only fields
# written as that type give the same value both ways.
_EXPANDED = {2: 0x04, 6: 0x04}
_RUN_PROBE = 4096  # strides looked at per step while finding where a run ends


@dataclass(frozen=True)
class _Definition:
    global_number: int
    stride: int  # the header byte, the fields and the developer fields
    dtype: np.dtype | None  # the fields read here, at their offsets (records only)
    invalid: dict[str, int]
    readable: bool  # a record definition this reader gives the SDK's answer for


@dataclass
class Column:
    """One record field across the file's records: raw values, and where they are valid."""

    values: np.ndarray  # int64
    valid: np.ndarray  # bool


@dataclass
class Records:
    """The records' fields, raw, one entry per record message in file order (with or without
    a timestamp), and the file with its records taken out."""

    count: int
    columns: dict[str, Column]
    rest: bytes

    def scaled(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Field `name` as the SDK gives it (scale and offset applied; integers stay integers
        where the profile neither scales nor offsets), and its validity; None if no record
        has it."""
        column = self.columns.get(name)
        if column is None or not column.valid.any():
            return None
        _number, scale, offset = FIELDS[name]
        if scale == 1 and offset == 0:
            return column.values, column.valid
        values = column.values.astype(np.float64)
        if scale != 1:
            values = values / scale
        return values - offset, column.valid


def split_records(data: bytes) -> Records | None:
    """The records of a single FIT file (its container already checked), or None where the SDK
    must decode the file (see the module's docstring)."""
    header_size = data[0]
    data_size = int.from_bytes(data[4:8], "little")
    end = header_size + data_size
    if end + 2 != len(data):
        return None  # chained files
    view = np.frombuffer(data, dtype=np.uint8)
    definitions: dict[int, _Definition] = {}
    rest = bytearray(data[:header_size])
    runs: list[tuple[_Definition, int, int]] = []  # definition, first byte, records
    position = header_size
    try:
        while position < end:
            header = data[position]
            if header & 0x80:
                return None  # a compressed timestamp header
            if header & 0x40:
                definition, size = _definition(data, position)
                definitions[header & 0x0F] = definition
                rest += data[position : position + size]
                position += size
                continue
            found = definitions.get(header & 0x0F)
            if found is None or position + found.stride > end:
                return None
            if found.global_number == HR:
                return None
            if found.global_number != RECORD:
                rest += data[position : position + found.stride]
                position += found.stride
                continue
            if not found.readable:
                return None
            count = _run_length(view, position, found.stride, header, end)
            runs.append((found, position, count))
            position += count * found.stride
    except IndexError:  # a definition cut short by the end of the data
        return None
    if position != end:
        return None
    rest += data[end:]  # the CRC: not checked again
    rest[4:8] = (len(rest) - header_size - 2).to_bytes(4, "little")
    if header_size == 14:
        rest[12:14] = b"\0\0"  # no header CRC
    return _gather(data, runs, bytes(rest))


def _definition(data: bytes, position: int) -> tuple[_Definition, int]:
    header = data[position]
    big = data[position + 2] != 0
    global_number = int.from_bytes(data[position + 3 : position + 5], "big" if big else "little")
    fields = data[position + 5]
    size = 6 + 3 * fields
    offset = 1  # the data message's header byte comes first
    names: list[str] = []
    formats: list[str] = []
    offsets: list[int] = []
    invalid: dict[str, int] = {}
    readable = True
    seen: set[int] = set()
    for at in range(position + 6, position + size, 3):
        number, field_size, base_type = data[at], data[at + 1], data[at + 2] & 0x1F
        base_size = _BASE_SIZES.get(base_type)
        if base_size is None:
            readable = False  # the SDK refuses the definition: let it say so
            base_size = 1
        if number in seen or number == COMPRESSED_SPEED_DISTANCE:
            readable = False
        if number in _EXPANDED and base_type != _EXPANDED[number]:
            readable = False
        seen.add(number)
        name = _BY_NUMBER.get(number)
        if name is not None:
            integer = _INTEGER_TYPES.get(base_type)
            if integer is None or field_size != base_size or base_size == 8:
                # an array, a float, a string, bytes, a ragged size, or 64 bits (beyond int64)
                readable = False
            else:
                kind, bad = integer
                names.append(name)
                formats.append((">" if big else "<") + kind)
                offsets.append(offset)
                invalid[name] = bad
        offset += field_size
    if header & 0x20:  # developer fields: skipped, their descriptions go to the SDK
        developer = data[position + size]
        offset += sum(data[position + size + 2 + 3 * k] for k in range(developer))
        size += 1 + 3 * developer
    dtype = None
    if global_number == RECORD and readable:
        dtype = np.dtype(
            {"names": names, "formats": formats, "offsets": offsets, "itemsize": offset}
        )
    return _Definition(global_number, offset, dtype, invalid, readable), size


def _run_length(view: np.ndarray, position: int, stride: int, header: int, end: int) -> int:
    """How many messages from `position` on, `stride` bytes apart, start with `header`: a
    definition between them would start with another byte."""
    count = 0
    while True:
        first = position + count * stride
        room = (end - first) // stride
        if room <= 0:
            return count
        probe = view[first : first + min(room, _RUN_PROBE) * stride : stride]
        different = np.flatnonzero(probe != header)
        if different.size:
            return count + int(different[0])
        count += probe.size


def _gather(data: bytes, runs: list[tuple[_Definition, int, int]], rest: bytes) -> Records:
    count = sum(records for _definition, _position, records in runs)
    columns: dict[str, Column] = {}
    at = 0
    for definition, position, records in runs:
        assert definition.dtype is not None
        table = np.frombuffer(data, dtype=definition.dtype, count=records, offset=position)
        for name in definition.dtype.names or ():
            column = columns.get(name)
            if column is None:
                column = columns[name] = Column(
                    np.zeros(count, np.int64), np.zeros(count, np.bool_)
                )
            raw = table[name]
            column.values[at : at + records] = raw
            column.valid[at : at + records] = raw != definition.invalid[name]
        at += records
    return Records(count, columns, rest)
