"""Who calls (the user and the app behind a token), and per-app JSON metadata, as SweatStack has it on activities, traces and tests: only an app
token may write it, each app sees only its own, and a document is at most 1 KB (of compact
JSON: 413 beyond) and 32 levels deep (422 beyond)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.di import NamedDependency

from training_gateway.adapters.sweatstack.mock.dialect import AnyRequest, ApiError, body_error

#: The app a token without `client_id` stands for.
FIRST_PARTY_APP = "sweatstack-web"
MAX_APP_METADATA_BYTES = 1024
MAX_APP_METADATA_DEPTH = 32


class Caller(msgspec.Struct, frozen=True):
    """The user and the app behind a bearer token (`app_token`: the token is an app's)."""

    user: str
    app: str
    app_token: bool


def provide_test_caller(claims: NamedDependency[dict[str, Any]]) -> Caller:
    """The user and the app behind the bearer token."""
    app = claims.get("client_id")
    return Caller(
        user=str(claims["sub"]),
        app=str(app) if app else FIRST_PARTY_APP,
        app_token=bool(app),
    )


def require_app_token(app_token: bool) -> None:
    """SweatStack's 403 for a personal token (app metadata needs an app's)."""
    if not app_token:
        raise ApiError(403, "App metadata needs an app token")


async def read_app_metadata(request: AnyRequest) -> dict[str, Any]:
    """The body of a PUT .../app-metadata: a JSON object within the limits."""
    raw = await request.body()
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise ApiError(422, [body_error("json_invalid", [], "JSON decode error", None)]) from None
    if not isinstance(data, dict):
        raise ApiError(
            422, [body_error("dict_type", [], "Input should be a valid dictionary", data)]
        )
    # The size is of the compact JSON, so a client's whitespace does not count.
    if len(msgspec.json.encode(data)) > MAX_APP_METADATA_BYTES:
        raise ApiError(413, "App metadata is limited to 1 KB")
    if _depth(data) > MAX_APP_METADATA_DEPTH:
        raise ApiError(
            422,
            [
                body_error(
                    "value_error", [], "Value error, app metadata is limited to 32 levels", None
                )
            ],
        )
    return data


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0
