"""Decoding untrusted documents into the schema's Structs, naming the field at fault.

Every decode of caller input goes through `decode_as`, so a bad value is always reported as
`InvalidBody` with one path format: `results.lt1.power`, `data[12].hr`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, TypeVar

import msgspec

from training_gateway.models.errors import InvalidBody

T = TypeVar("T")

_PATH = re.compile(r"at `\$(?P<path>[^`]*)`")
_NAMED = re.compile(r"(?:required|unknown) field `(?P<name>[^`]+)`")


def field_path(message: str, prefix: str = "") -> str:
    """The field a msgspec error message points at, under `prefix`: `... - at `$.results.lt1`
    gives `results.lt1`; a missing or unknown field adds its name; `$[3].hr` under `data`
    gives `data[3].hr`. Empty when the message names no place and there is no prefix."""
    match = _PATH.search(message)
    path = match.group("path") if match else ""
    named = _NAMED.search(message)
    if named:
        path += "." + named.group("name")
    joined = prefix + path
    return joined[1:] if joined.startswith(".") else joined


def decode_as(
    raw: Any,
    type_: type[T] | Any,
    *,
    prefix: str = "",
    strict: bool = True,
    what: str | None = None,
) -> T:
    """`raw` (JSON text or bytes, or already-parsed builtins) as `type_`; InvalidBody naming
    the field path under `prefix` when it does not decode or validate (its detail starting
    with `what`, when given, e.g. "the patched test is invalid")."""
    lead = f"{what}: " if what else ""
    try:
        if isinstance(raw, str | bytes):
            decoded: T = msgspec.json.decode(raw, type=type_, strict=strict)
        else:
            decoded = msgspec.convert(raw, type_, strict=strict)
    except msgspec.ValidationError as exc:
        where = field_path(str(exc), prefix) or prefix or "body"
        raise InvalidBody(where, f"{lead}{exc}") from None
    except msgspec.DecodeError as exc:
        found = _non_finite_path(raw) if isinstance(raw, str | bytes) else None
        if found is not None:
            raise InvalidBody(
                prefix + found, f"{lead}NaN and Infinity are not JSON numbers"
            ) from None
        raise InvalidBody(prefix or "body", f"{lead}not valid JSON: {exc}") from None
    return decoded


def _non_finite_path(raw: str | bytes) -> str | None:
    """Where the first NaN or infinity sits in JSON text (Python's parser reads them), as
    `[3].hr`; None when there is none or the text does not parse at all."""
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return _first_non_finite(parsed, "")


def _first_non_finite(value: Any, path: str) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, dict):
        items: list[tuple[str, Any]] = [(f"{path}.{k}", v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    else:
        return None
    for where, item in items:
        found = _first_non_finite(item, where)
        if found is not None:
            return found
    return None


# Caller documents nest at most this deep: enough for any schema here and any app's metadata,
# and far from the recursion limits of the encoders that will write them back out.
MAX_NESTING = 32


def check_document(value: Any, *, max_depth: int = MAX_NESTING, prefix: str = "") -> None:
    """Refuse a parsed JSON document (builtins) that nests deeper than `max_depth` or holds a
    NUL character in a string or key (databases and many clients cannot hold one);
    InvalidBody naming the place."""
    stack: list[tuple[Any, str, int]] = [(value, prefix, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise InvalidBody(path or "body", "text must not contain NUL characters")
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                raise InvalidBody(
                    path or "body", f"the document nests deeper than {max_depth} levels"
                )
            if isinstance(item, dict):
                for key, child in item.items():
                    where = f"{path}.{key}" if path else str(key)
                    if isinstance(key, str) and "\x00" in key:
                        raise InvalidBody(where, "keys must not contain NUL characters")
                    stack.append((child, where, depth + 1))
            else:
                stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
