"""Writes `aio.py` (AsyncGatewayClient) from `sync.py` (GatewayClient), so the two clients
never drift: `python -m training_gateway.gateway.client._unasync` after changing sync.py.
tests/client/test_route_map.py fails when aio.py is not what this makes of sync.py."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYNC = HERE / "sync.py"
ASYNC = HERE / "aio.py"

DOCSTRING = '''"""`AsyncGatewayClient`: the gateway's API from asyncio code, on httpx.

Generated from sync.py by _unasync.py: edit sync.py, then run
`python -m training_gateway.gateway.client._unasync`.
"""'''

# Methods that stay synchronous: construction and description do no I/O.
_SYNC_METHODS = frozenset({"__init__", "base_url", "__repr__"})
_RENAMED = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}

# Plain replacements, in order.
_REPLACEMENTS = (
    (
        "from collections.abc import Iterable, Iterator,",
        "from collections.abc import AsyncIterator, Iterable,",
    ),
    ("class GatewayClient:", "class AsyncGatewayClient:"),
    ("-> GatewayClient:", "-> AsyncGatewayClient:"),
    ("httpx.Client", "httpx.AsyncClient"),
    ("httpx.BaseTransport", "httpx.AsyncBaseTransport"),
    ("Iterator[", "AsyncIterator["),
    ("self._http.close()", "await self._http.aclose()"),
    ("        self.close()\n", "        await self.aclose()\n"),
    ("self._http.request(", "await self._http.request("),
    ("return self._send(", "return await self._send("),
    ("page = self.", "page = await self."),
    ("with self._http.stream(", "async with self._http.stream("),
    ("response.read()", "await response.aread()"),
    ("for line in response.iter_lines():", "async for line in response.aiter_lines():"),
)

_DEF = re.compile(r"^(    )def (\w+)\(", re.M)
_YIELD_FROM = re.compile(r"^(\s*)yield from (.+)$", re.M)


def unasync(source: str) -> str:
    """sync.py's text as aio.py's."""
    body = source.split('"""', 2)[2]  # past the module docstring
    for old, new in _REPLACEMENTS:
        body = body.replace(old, new)

    def define(match: re.Match[str]) -> str:
        indent, name = match.group(1), match.group(2)
        if name in _SYNC_METHODS:
            return match.group(0)
        return f"{indent}async def {_RENAMED.get(name, name)}("

    body = _DEF.sub(define, body)
    body = _YIELD_FROM.sub(r"\1for item in \2:\n\1    yield item", body)
    return DOCSTRING + body


def formatted(source: str) -> str:
    """`source` as the project's formatter writes it (ruff, from the test extras)."""
    return subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(ASYNC), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def generated() -> str:
    """What aio.py must hold."""
    return formatted(unasync(SYNC.read_text()))


def main() -> int:
    ASYNC.write_text(generated())
    return 0


if __name__ == "__main__":
    sys.exit(main())
