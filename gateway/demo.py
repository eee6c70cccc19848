"""The embedded default: both provider mocks on loopback, a demo user connected to each
through the providers' real OAuth flow (PKCE, and OpenID Connect where the provider has it)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import parse_qs, urlsplit

import httpx

from training_gateway.adapters._mock.base import MockProvider
from training_gateway.adapters._mock.registry import load_mock_factories
from training_gateway.adapters._mock.server import MockServer
from training_gateway.adapters.base import Adapter
from training_gateway.gateway.demo_receiver import RECEIVER_PATH
from training_gateway.gateway.runtime import Gateway
from training_gateway.gateway.services.connections import ConnectionFlow, credentials_from_token
from training_gateway.gateway.services.events import EndpointRequest
from training_gateway.gateway.settings import OAuthClient, Settings
from training_gateway.gateway.storage.store import API_KEY_PREFIX

DEMO_USER = "demo"
DEMO_CLIENT_ID = "training-gateway-demo"
_log = logging.getLogger("gateway.demo")


@dataclass
class Demo:
    """Running mocks and the demo user's key; `bootstrap` connects the user at gateway start."""

    key: str
    mocks: dict[str, MockProvider] = field(default_factory=dict)
    servers: dict[str, MockServer] = field(default_factory=dict)
    # The operator's key of the demo gateway (for /v1/webhooks), unless one was set.
    admin_key: str = field(default_factory=lambda: "gwadmin_demo_" + secrets.token_urlsafe(24))

    @property
    def provider_urls(self) -> dict[str, str]:
        return {name: server.url for name, server in self.servers.items()}

    def configure(self, settings: Settings) -> None:
        """Point `settings` at the mocks, and register the gateway as an OAuth client at each
        (a fresh secret per run, the gateway's own callback as the only redirect URI)."""
        settings.demo = True
        settings.provider_urls = {**settings.provider_urls, **self.provider_urls}
        clients = dict(settings.oauth_clients)
        for name, mock in self.mocks.items():
            auth = getattr(mock, "auth", None)
            if auth is None:
                continue
            client = OAuthClient(client_id=DEMO_CLIENT_ID, client_secret=secrets.token_urlsafe(24))
            clients[name] = client
            auth.register_client(
                client.client_id,
                secret=client.client_secret,
                redirect_uris=[settings.redirect_uri(name)],
            )
        settings.oauth_clients = clients
        settings.admin_key = settings.admin_key or self.admin_key
        self.admin_key = settings.admin_key
        # Every mock that sends webhooks sends them to the gateway, signed with a secret the
        # gateway is given (the mock is the provider's app settings page).
        secrets_of = dict(settings.webhook_secrets)
        for name, mock in self.mocks.items():
            webhooks = getattr(mock, "webhooks", None)
            if webhooks is None:
                continue
            hook = webhooks.subscribe(
                f"http://127.0.0.1:{settings.port}/v1/hooks/{name}", app=DEMO_CLIENT_ID
            )
            secrets_of[name] = (hook.secret, *secrets_of.get(name, ()))
        settings.webhook_secrets = secrets_of

    async def bootstrap(self, state: Gateway) -> None:
        """Create the demo user and connect it to every mock the way a user would: start the
        flow, let the mock's authorization endpoint approve, finish at the callback step."""
        await register_receiver(state)
        user = await state.store.ensure_user(DEMO_USER)
        await state.store.revoke_api_keys(user)
        await state.store.issue_api_key(user, self.key)
        flow = ConnectionFlow(state)
        async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
            for name, mock in sorted(self.mocks.items()):
                if name not in state.oauth:  # a mock without an authorization server
                    await state.store.save_connection(
                        user, name, credentials_from_token(mock.token_for())
                    )
                    await flow.connected(user, name)
                    continue
                # Loopback whatever the bind address: demo mode allows loopback return URLs.
                start = await flow.begin(
                    user, name, return_to=f"http://127.0.0.1:{state.settings.port}/"
                )
                approval = await browser.get(start.authorization_url)
                query = parse_qs(urlsplit(approval.headers.get("location", "")).query)
                if approval.status_code != 302 or "code" not in query:
                    raise RuntimeError(f"the {name} mock did not approve the demo connection")
                await flow.complete(name, code=query["code"][0], state=query["state"][0])
                _log.info("demo user connected to %s through OAuth", name)

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


def start_demo(
    adapter_classes: dict[str, type[Adapter]],
    *,
    seed: int = 0,
    key: str | None = None,
    latency_s: float = 0.0,
    today: date | None = None,
) -> Demo:
    """Start every provider's mock on a free loopback port (each adding `latency_s`), their
    seeded histories ending on `today` (the real date when None)."""
    demo = Demo(key=key or API_KEY_PREFIX + "demo_" + secrets.token_urlsafe(24))
    mock_factories = load_mock_factories()
    try:
        for name in sorted(adapter_classes):
            factory = mock_factories[name]
            mock = factory(seed) if today is None else factory(seed, today=today)
            mock.faults.latency_s = latency_s
            demo.mocks[name] = mock
            demo.servers[name] = MockServer(mock.asgi_app()).start()
    except BaseException:
        demo.stop()
        raise
    return demo


async def register_receiver(gateway: Gateway) -> None:
    """Register the demo's receiver as an endpoint for every event (once per data
    directory: a restarted demo finds its endpoint and its secret again)."""
    url = f"http://127.0.0.1:{gateway.settings.port}{RECEIVER_PATH}"
    endpoint_id = next((e.id for e in await gateway.events.endpoints() if e.url == url), None)
    if endpoint_id is None:
        created = await gateway.events.create_endpoint(
            EndpointRequest(url=url, description="the demo's receiver (GET /demo/events)")
        )
        endpoint_id = created.id
    gateway.demo_inbox.secrets = await gateway.events.signing_secrets(endpoint_id)
