"""Refresh herd: N requests waiting on one expired connection while SweatStack's token endpoint
hangs, fails or throttles. Before the single-flight refresh each waiter retried in turn
(about waiters x timeout); now they share one attempt. Prints, per case, the sequential cost
beside the measured time and the token requests the mock counted.

    python benchmarks/refresh_herd.py [--timeout-s 2] [--waiters 10 20]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.fernet import Fernet

from training_gateway.adapters._mock.oauth import TokenEndpointFault
from training_gateway.adapters._mock.server import MockServer, free_loopback_port
from training_gateway.adapters.base import load_adapters
from training_gateway.gateway.app import create_app
from training_gateway.gateway.demo import start_demo
from training_gateway.gateway.settings import load_settings
from training_gateway.gateway.storage import Store, TokenVault


def _faults(timeout_s: float) -> dict[str, TokenEndpointFault]:
    return {
        "hanging": TokenEndpointFault(hang_s=2.5 * timeout_s, status=503),
        "failing (503)": TokenEndpointFault(status=503),
        "throttling (429)": TokenEndpointFault(status=429, retry_after="30"),
    }


def _connect(url: str, key: str) -> None:
    """Connect SweatStack the way a browser would: start, let the mock approve, callback."""
    headers = {"Authorization": f"Bearer {key}"}
    started = httpx.post(
        f"{url}/v1/connections/sweatstack",
        json={"return_to": "http://127.0.0.1:9/done"},
        headers=headers,
    )
    started.raise_for_status()
    approved = httpx.get(started.json()["authorization_url"], follow_redirects=False)
    query = {k: v[0] for k, v in parse_qs(urlsplit(approved.headers["location"]).query).items()}
    done = httpx.get(f"{url}/v1/connections/sweatstack/callback", params=query)
    assert done.status_code == 303, done.text


async def _herd(url: str, key: str, waiters: int) -> float:
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120
    ) as client:
        began = time.monotonic()
        await asyncio.gather(
            *(
                client.get("/v1/activities", params={"provider": "sweatstack", "limit": 2})
                for _ in range(waiters)
            )
        )
        return time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout-s", type=float, default=2.0)
    parser.add_argument("--waiters", type=int, nargs="+", default=[10, 20])
    args = parser.parse_args()

    classes = load_adapters()
    demo = start_demo(classes)
    mock: Any = demo.mocks["sweatstack"]
    data_dir = Path(tempfile.mkdtemp(prefix="refresh-herd-"))
    settings = load_settings(
        {},
        data_dir=data_dir,
        port=free_loopback_port(),
        secret_keys=(Fernet.generate_key().decode(),),
        http_timeout_s=args.timeout_s,
        refresh_backoff_s=30.0,
    )
    demo.configure(settings)
    server = MockServer(
        create_app(settings, adapter_classes=classes, bootstrap=demo.bootstrap),
        port=settings.port,
    ).start(timeout_s=30)

    async def new_user(name: str) -> str:
        store = Store.open(settings.database_url, TokenVault(settings.secret_keys))
        try:
            return await store.issue_api_key(await store.create_user(name))
        finally:
            await store.close()

    rows = []
    try:
        for fault_name, fault in _faults(args.timeout_s).items():
            for waiters in args.waiters:
                key = asyncio.run(new_user(f"herd-{len(rows)}"))
                mock.tokens.default_ttl_s = 2
                _connect(server.url, key)
                mock.tokens.default_ttl_s = 3600
                time.sleep(2.2)  # the access token has expired: every waiter needs a refresh
                fault.times, fault.grant_type = 10_000, "refresh_token"
                mock.auth.token_fault = fault
                before = mock.auth.token_requests["refresh_token"]
                elapsed = asyncio.run(_herd(server.url, key, waiters))
                mock.auth.token_fault = None
                requests = mock.auth.token_requests["refresh_token"] - before
                rows.append((fault_name, waiters, waiters * args.timeout_s, elapsed, requests))
    finally:
        server.stop()
        demo.stop()

    print(f"token endpoint timeout {args.timeout_s:g} s")
    print(
        f"{'token endpoint':<18} {'waiters':>7} {'waiters x timeout':>18} "
        f"{'measured':>9} {'token requests':>15}"
    )
    for fault_name, waiters, sequential, elapsed, requests in rows:
        print(
            f"{fault_name:<18} {waiters:>7} {sequential:>16.1f} s {elapsed:>7.2f} s {requests:>15}"
        )


if __name__ == "__main__":
    main()
