"""The query string every /v1 route reads, checked before the route runs: a parameter the route
does not know is an error (with a hint at the one meant), and no parameter may be repeated,
long or hold NUL characters beyond what any real request needs. Routes a provider redirects
a browser to (`opt={"provider_redirect": True}`) take what the provider adds."""

from __future__ import annotations

import difflib
from typing import Any

from litestar import Request
from litestar.constants import RESERVED_KWARGS
from litestar.handlers import BaseRouteHandler
from litestar.params import ParameterKwarg

from training_gateway.models.errors import InvalidParameter

# A repeatable parameter holds at most this many values (comma-joined ones included), and
# a value at most this many characters; the cursor, which carries every provider's place,
# may be longer. The whole query string is capped too.
MAX_VALUES = 100
MAX_VALUE_CHARS = 200
MAX_CURSOR_CHARS = 4096
MAX_QUERY_CHARS = 16_384

# A provider's own name for a parameter -> the gateway's (Astral's coach access and raw
# format), suggested when a route reads the gateway's name.
PROVIDER_NAMES = {"user_id": "athlete", "format": "view"}

# Where a handler's known parameters are kept, computed on its first request.
_KNOWN = "_known_query_parameters"


def known_query_parameters(handler: BaseRouteHandler) -> frozenset[str]:
    """The query parameters a route reads: its own and those of the dependencies it asks
    for (recursively), by the names they have on the wire."""
    found: frozenset[str] | None = handler.opt.get(_KNOWN)
    if found is None:
        providers = handler.resolve_dependencies()
        path_names = {
            name.split(":", 1)[0].strip("{}")
            for path in handler.paths
            for name in path.split("/")
            if name.startswith("{")
        }
        names: set[str] = set()
        pending = [handler.parsed_fn_signature.parameters]
        seen: set[str] = set()
        while pending:
            for name, field in pending.pop().items():
                if name in providers:
                    if name not in seen:
                        seen.add(name)
                        pending.append(providers[name].parsed_fn_signature.parameters)
                    continue
                if name in RESERVED_KWARGS or name in path_names:
                    continue
                kwarg = field.kwarg_definition
                if isinstance(kwarg, ParameterKwarg):
                    if kwarg.header or kwarg.cookie:
                        continue
                    names.add(kwarg.query or name)
                elif not field.is_di_field:
                    names.add(name)
        found = handler.opt[_KNOWN] = frozenset(names)
    return found


def check_query(request: Request[Any, Any, Any]) -> None:
    """Refuse (InvalidParameter, naming it) a query parameter the route does not read, and one
    repeated too often, too long, or holding NUL."""
    if request.route_handler.opt.get("provider_redirect"):
        return  # the provider composes this query string (RFC 9207 `iss`, and the like)
    raw = request.scope.get("query_string", b"")
    if len(raw) > MAX_QUERY_CHARS:
        raise InvalidParameter("query", f"the query string is longer than {MAX_QUERY_CHARS} bytes")
    known = known_query_parameters(request.route_handler)
    for name, values in request.query_params.dict().items():
        if name not in known:
            raise InvalidParameter(name, _unknown(name, known))
        limit = MAX_CURSOR_CHARS if name == "cursor" else MAX_VALUE_CHARS
        count = 0
        for value in values:
            if len(value) > limit:
                raise InvalidParameter(name, f"{name} values are at most {limit} characters")
            if "\x00" in value:
                raise InvalidParameter(name, f"{name} must not contain NUL characters")
            count += value.count(",") + 1
        if count > MAX_VALUES:
            raise InvalidParameter(name, f"{name} takes at most {MAX_VALUES} values")


def _unknown(name: str, known: frozenset[str]) -> str:
    if PROVIDER_NAMES.get(name) in known:
        close = [PROVIDER_NAMES[name]]
    else:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    offered = ", ".join(sorted(known)) if known else "none"
    return f"unknown query parameter {name!r}{hint} (this route reads: {offered})"
