"""What the sync and the async client share: their settings, how a `Call` becomes httpx's
arguments, how an answer becomes a value or a typed error, and the cursor walk."""

from __future__ import annotations

from typing import Any

import httpx

from training_gateway.gateway.client.calls import Call
from training_gateway.gateway.client.errors import ListingIncomplete, error_for
from training_gateway.gateway.version import API_VERSION
from training_gateway.gateway.wire import ProviderFailure

DEFAULT_TIMEOUT_S = 30.0
USER_AGENT = f"training-gateway-client/{API_VERSION}"


class ClientSettings:
    """Where the gateway is, and the keys to call it with (never shown in a repr)."""

    def __init__(self, base_url: str, api_key: str | None, admin_key: str | None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._admin_key = admin_key

    def request_arguments(self, call: Call[Any]) -> dict[str, Any]:
        """httpx's `request` arguments for `call`."""
        headers = {"User-Agent": USER_AGENT, **call.headers}
        key = self._admin_key if call.admin and self._admin_key else self._api_key
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        arguments: dict[str, Any] = {
            "method": call.method,
            "url": self.base_url + call.path,
            "params": call.params,
            "headers": headers,
            # The connection callback answers a redirect: its Location is the answer.
            "follow_redirects": False,
        }
        if call.files is not None:
            arguments["files"] = call.files
            arguments["data"] = call.data
        elif call.content is not None:
            arguments["content"] = call.content
        return arguments

    def __repr__(self) -> str:
        return f"ClientSettings(base_url={self.base_url!r})"


def answer_of(call: Call[Any], response: httpx.Response) -> Any:
    """The value of a read answer, or its typed error raised. A redirect is an answer only for
    the connection callback (its Location is the value)."""
    if response.is_success or (response.is_redirect and call.path.endswith("/callback")):
        return call.read(response)
    raise error_for(response)


class CursorWalk:
    """Where a walk of a merged list stands: the next cursor, and failures still unresolved.

    A failed provider keeps its place in the cursor, so following it retries that provider;
    the walk ends when the cursor does, or when a page with failures brought nothing new."""

    def __init__(self) -> None:
        self.cursor: str | None = None
        self.failures: list[ProviderFailure] = []
        self.done = False

    def advance(self, next_cursor: str | None, items: int, failures: list[ProviderFailure]) -> None:
        self.failures = failures
        self.cursor = next_cursor
        self.done = next_cursor is None or (bool(failures) and items == 0)

    def finish(self, errors: str) -> None:
        """At the end: raise ListingIncomplete for providers still failing (errors="raise")."""
        if self.failures and errors == "raise":
            raise ListingIncomplete(self.failures)


def check_errors_mode(errors: str) -> None:
    if errors not in ("raise", "ignore"):
        raise ValueError(f"errors must be 'raise' or 'ignore', not {errors!r}")
