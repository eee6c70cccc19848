"""The request class of the gateway: the one edge every JSON body crosses, so bad input is
refused there by construction (media type, nesting, NUL characters) before any route sees it."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.types import Empty

from training_gateway.models.decoding import check_document
from training_gateway.models.errors import InvalidBody, UnsupportedMediaType


def is_json_media_type(content_type: str) -> bool:
    """`application/json` or a structured `+json` type (`application/merge-patch+json`)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class GatewayRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        """The body as checked JSON: sent as JSON (415 otherwise), parseable, at most
        MAX_NESTING levels deep and free of NUL characters (422 naming the place otherwise)."""
        if self._json is not Empty:
            return self._json
        content_type = self.headers.get("content-type", "")
        if not is_json_media_type(content_type) and (content_type or await self.body()):
            raise UnsupportedMediaType(
                "Content-Type",
                f"send the body as application/json, not {content_type or 'without a type'!r}",
            )
        body = await self.body()
        if not body.strip():
            raise InvalidBody("body", "the request needs a JSON body")
        try:
            document = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            raise InvalidBody("body", f"the body is not valid JSON: {exc}") from None
        except RecursionError:
            raise InvalidBody("body", "the document nests too deeply") from None
        check_document(document)
        self._json = document
        return document
