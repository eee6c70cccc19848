"""A mock's control surface: routes under `/_mock/` that tests, benchmarks and other processes
use to drive a running mock, served only to loopback clients and never subject to the faults
the mock injects (`FaultInjector` routes them here, after its own `/_mock/faults`).

Every mock has `/_mock/clock` (GET shows `{"now", "speed"}`; POST takes `{"advance_s": 3600}`,
`{"speed": 0}` or both); a provider adds its own: `/_mock/changes` (`changes_route`), where a
POST changes a user's data as the provider's own app would, and SweatStack's
`/_mock/webhooks`. Errors
answer `{"detail": ...}`: 404 for an unknown record, 422 for a body that is not what the route
takes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from training_gateway.adapters._mock.clock import MockClock

T = TypeVar("T")
AnyRequest = Request[Any, Any, Any]


class UnknownRecord(LookupError):
    """A control request naming a record the mock does not hold (answered 404)."""


class InvalidChange(ValueError):
    """A control request the mock cannot carry out as asked (answered 422)."""


class ClockChange(msgspec.Struct, forbid_unknown_fields=True):
    """What `/_mock/clock` takes: a jump forward, a new speed (0 freezes it), or both."""

    advance_s: Annotated[float, msgspec.Meta(ge=0)] | None = None
    speed: Annotated[float, msgspec.Meta(ge=0)] | None = None


def answer(value: Any, status: int = 200) -> Response[bytes]:
    """A JSON answer of a control route."""
    return Response(
        content=msgspec.json.encode(value), status_code=status, media_type="application/json"
    )


async def decoded(request: AnyRequest, kind: type[T]) -> T:
    """The request body decoded strictly as `kind` (an empty body is `{}`)."""
    return msgspec.json.decode(await request.body() or b"{}", type=kind)


def clock_routes(clock: MockClock) -> list[Any]:
    """`GET` and `POST /_mock/clock`."""

    def shown() -> Response[bytes]:
        return answer({"now": clock.now(), "speed": clock.speed})

    @get("/_mock/clock", include_in_schema=False)
    async def show_clock() -> Response[bytes]:
        return shown()

    @post("/_mock/clock", include_in_schema=False)
    async def change_clock(request: AnyRequest) -> Response[bytes]:
        change = await decoded(request, ClockChange)
        if change.speed is not None:
            clock.speed = change.speed
        if change.advance_s is not None:
            clock.advance(change.advance_s)
        return shown()

    return [show_clock, change_clock]


def changes_route(apply: Callable[[bytes], Any]) -> Any:
    """`POST /_mock/changes`: `apply` makes the change the body describes (a change "in the
    provider's own app") and says what it did."""

    @post("/_mock/changes", status_code=200, include_in_schema=False)
    async def change(request: AnyRequest) -> Response[bytes]:
        return answer(apply(await request.body()))

    return change


def create_control_app(route_handlers: Sequence[Any]) -> Litestar:
    """The Litestar app serving a mock's control routes."""
    return Litestar(
        route_handlers=list(route_handlers),
        exception_handlers=_exception_handlers(),
        openapi_config=None,
        logging_config=None,  # a mock must not reconfigure the host process's logging
    )


def _detail(status: int, detail: str) -> Response[bytes]:
    return answer({"detail": detail}, status)


def _exception_handlers() -> ExceptionHandlersMap:
    return {
        UnknownRecord: lambda _, exc: _detail(404, str(exc.args[0] if exc.args else exc)),
        InvalidChange: lambda _, exc: _detail(422, str(exc)),
        msgspec.ValidationError: lambda _, exc: _detail(422, str(exc)),
        msgspec.DecodeError: lambda _, exc: _detail(422, f"not JSON: {exc}"),
        HTTPException: lambda _, exc: _detail(exc.status_code, exc.detail),
    }
