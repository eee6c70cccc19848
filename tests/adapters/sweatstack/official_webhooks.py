"""The official SDK's webhook verification (sweatstack 0.97.0, `sweatstack/fastapi/webhooks.py`),
run unchanged against the mock's deliveries.

That module imports FastAPI, which the test extras do not install (`sweatstack[fastapi]`
would). Without it, the module's own file is loaded with stand-ins for the three FastAPI
names it imports at the top (`Depends`, `HTTPException`, `Request`) and for its
`get_config`; every function it defines, `verify_signature` and the dependency behind
`WebhookPayload` (`_detect_webhook_context`), is the SDK's code as shipped.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
import types
from pathlib import Path
from typing import Any

import httpx
import sweatstack
from sweatstack.openapi_schemas import WebhookEventBody


def _load_official() -> types.ModuleType:
    try:
        from sweatstack.fastapi import webhooks  # the real thing, when FastAPI is installed

        return webhooks
    except ImportError:
        pass
    path = Path(sweatstack.__file__).parent / "fastapi" / "webhooks.py"
    fastapi = types.ModuleType("fastapi")
    fastapi.Depends = lambda dependency=None, **_: dependency  # type: ignore[attr-defined]
    fastapi.HTTPException = type("HTTPException", (Exception,), {})  # type: ignore[attr-defined]
    fastapi.Request = object  # type: ignore[attr-defined]
    config = types.ModuleType("sweatstack.fastapi.config")
    config.get_config = lambda: None  # type: ignore[attr-defined]  # replaced per call below
    stand_ins = {"fastapi": fastapi, "sweatstack.fastapi.config": config}
    name = "sweatstack.fastapi.webhooks"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = {key: sys.modules.get(key) for key in (*stand_ins, name)}
    sys.modules.update(stand_ins)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:  # nothing else in the process sees the stand-ins
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value
    return module


OFFICIAL = _load_official()
verify_signature = OFFICIAL.verify_signature
WebhookVerificationError: type[Exception] = OFFICIAL.WebhookVerificationError
_config_lock = threading.Lock()


class _Request:
    """What `_detect_webhook_context` reads of a FastAPI request: headers and the body."""

    def __init__(self, headers: httpx.Headers, body: bytes) -> None:
        self.headers = headers
        self._body = body

    async def body(self) -> bytes:
        return self._body


def official_payload(headers: httpx.Headers, body: bytes, secret: str) -> Any:
    """What the SDK's `WebhookPayload` dependency makes of a delivery, for an app configured
    with `secret`: a `WebhookPayloadModel`, or `WebhookVerificationError`. The body must
    also be the API's `WebhookEventBody`."""
    config = types.SimpleNamespace(webhook_secret=secret)
    with _config_lock:
        OFFICIAL.get_config = lambda: config
        payload = asyncio.run(OFFICIAL._detect_webhook_context(_Request(headers, body)))
    if payload is None:
        raise WebhookVerificationError("no X-Sweatstack-Signature header")
    WebhookEventBody.model_validate_json(body)
    return payload
