"""The request id: taken from a caller's `X-Request-Id` when it is a sane one, made otherwise,
and held in a context variable so log lines, provider calls and jobs carry it."""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-Id"
MAX_REQUEST_ID_CHARS = 128
# Letters, digits and the punctuation ids are made of (UUIDs, ULIDs, trace ids, `a.b:c`):
# nothing that could break a log line or a header.
_SAFE = re.compile(rf"[A-Za-z0-9._:\-]{{1,{MAX_REQUEST_ID_CHARS}}}")

_current: ContextVar[str | None] = ContextVar("gateway_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request (or job) this code runs for, if any."""
    return _current.get()


def request_id_or_new(offered: str | None) -> str:
    """`offered` when it is a safe id (at most 128 characters of letters, digits, `._:-`),
    else a new random one: a caller's id is echoed, never trusted to be well formed."""
    if offered is not None and _SAFE.fullmatch(offered):
        return offered
    return secrets.token_hex(16)


@contextlib.contextmanager
def using_request_id(request_id: str | None) -> Iterator[None]:
    """Run the block as part of `request_id` (a job resumes the request that enqueued it)."""
    token = _current.set(request_id)
    try:
        yield
    finally:
        _current.reset(token)
