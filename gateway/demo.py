"""The embedded default: both provider mocks on loopback, a demo user connected to each."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import msgspec

from adapters._mock.server import MockServer
from adapters.base import Adapter, Credentials, MockProvider
from gateway.state import GatewayState
from gateway.storage.store import API_KEY_PREFIX

DEMO_USER = "demo"
DEMO_TOKEN_TTL_S = 7 * 86400


@dataclass
class Demo:
    """Running mocks and the demo user's key; `bootstrap` connects the user at gateway start."""

    key: str
    mocks: dict[str, MockProvider] = field(default_factory=dict)
    servers: dict[str, MockServer] = field(default_factory=dict)

    @property
    def provider_urls(self) -> dict[str, str]:
        return {name: server.url for name, server in self.servers.items()}

    async def bootstrap(self, state: GatewayState) -> None:
        user = await state.store.ensure_user(DEMO_USER)
        await state.store.revoke_api_keys(user)
        await state.store.issue_api_key(user, self.key)
        for name, mock in self.mocks.items():
            await state.store.save_connection(user, name, credentials_from_token(mock.token_for()))

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


def credentials_from_token(token: str) -> Credentials:
    """Credentials for a token, with the identity (sub, email, name) a JWT carries, if any."""
    claims = _unverified_claims(token)
    return Credentials(
        access_token=token,
        subject=str(claims.get("sub")) if claims.get("sub") else None,
        email=str(claims["email"]) if claims.get("email") else None,
        display_name=str(claims["name"]) if claims.get("name") else None,
    )


def _unverified_claims(token: str) -> dict[str, object]:
    """The payload of a JWT, read only for identity hints: the provider verifies the token."""
    import base64

    try:
        payload = token.split(".")[1]
        claims = msgspec.json.decode(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, msgspec.DecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def start_demo(
    adapter_classes: dict[str, type[Adapter]],
    *,
    seed: int = 0,
    key: str | None = None,
    latency_s: float = 0.0,
) -> Demo:
    """Start every provider's mock on a free loopback port (each adding `latency_s`)."""
    demo = Demo(key=key or API_KEY_PREFIX + "demo_" + secrets.token_urlsafe(24))
    try:
        for name, adapter_class in sorted(adapter_classes.items()):
            mock = adapter_class.create_mock(seed)
            mock.faults.latency_s = latency_s
            # The demo's connections hold their tokens for a week (refresh comes with OAuth).
            mock.tokens.default_ttl_s = DEMO_TOKEN_TTL_S
            demo.mocks[name] = mock
            demo.servers[name] = MockServer(mock.asgi_app()).start()
    except BaseException:
        demo.stop()
        raise
    return demo
