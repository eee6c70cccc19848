"""Running the gateway as a server: claim the data directory, bind the port, start the demo's
mocks when asked, and say where it listens only once it does.

Everything that can go wrong before serving (a setting that cannot be used, a port in use, a
data directory another gateway holds) is a `StartupError`: the CLI prints its one line and
exits with status 2, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import gc
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import h11
import msgspec
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from training_gateway.adapters.base import load_adapters
from training_gateway.gateway.app import create_app, vault_for
from training_gateway.gateway.demo import Demo, start_demo
from training_gateway.gateway.engine.worker import Engine, default_worker_id
from training_gateway.gateway.errors import PROBLEM_MEDIA_TYPE, Problem
from training_gateway.gateway.settings import Settings


class StartupError(Exception):
    """The gateway cannot start; the message says why and what to do, in one line."""


@dataclass(frozen=True)
class DemoOptions:
    seed: int = 0
    mock_latency_s: float = 0.0


LOCK_FILE = "gateway.lock"


@contextlib.contextmanager
def claim_data_dir(data_dir: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold the data directory for as long as the gateway serves from it.

    A demo holds it alone: it re-issues the demo user's key and reconnects the demo user to
    its own mocks, which would break another gateway on the same directory. Other gateways
    share it (replicas on one SQLite file are fine); a demo and another gateway never do.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_FILE
    handle: IO[str] = open(path, "a+")  # held open, and locked, while serving
    try:
        try:
            fcntl.flock(handle, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StartupError(_held_by(handle, data_dir, exclusive)) from None
        if exclusive:
            handle.seek(0)
            handle.truncate()
            handle.write(f"the demo (pid {os.getpid()})")
            handle.flush()
        yield
    finally:
        handle.close()


def _held_by(handle: IO[str], data_dir: Path, exclusive: bool) -> str:
    """Why the data directory cannot be claimed: who holds it."""
    try:  # a shared lock is refused only while a demo holds the directory alone
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "a demo"
    else:
        fcntl.flock(handle, fcntl.LOCK_UN)
        holder = "another gateway"
    what = "a demo" if exclusive else "this gateway"
    return (
        f"{holder} is serving from {data_dir}, so {what} cannot share it; stop it, or give "
        "this one its own directory with GATEWAY_DATA_DIR"
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; StartupError when it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without, a keep-alive response written in two parts
    # waits for the client's delayed ACK (about 40 ms on Linux) before its second part.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OverflowError:
        sock.close()
        raise StartupError(f"port {port} is not a TCP port (0-65535)") from None
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {host} is in use; choose another with --port or GATEWAY_PORT"
            ) from None
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class ProblemH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, refusing a request it cannot parse (a malformed or
    oversized request line or header) with a problem document, like every other refusal."""

    def send_400_response(self, msg: str) -> None:
        problem = Problem(
            title="Bad Request",
            status=400,
            detail="the request is not valid HTTP/1.1: its request line or headers are "
            "malformed or longer than the server accepts",
        )
        body = msgspec.json.encode(problem)
        headers = [
            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()


class _AnnouncingServer(uvicorn.Server):
    """uvicorn, announcing where it listens once the app has started and the port accepts."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[], None]) -> None:
        super().__init__(config)
        self._announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            settle_heap()
            self._announce()


def settle_heap() -> None:
    """Move what start-up built (modules, the app, the engine, pyarrow's and numpy's state)
    out of the collector's reach: a full collection walked all of it, about 100-360 ms with
    the event loop held, several times during a cold longitudinal query (issue #11). What
    requests allocate later is still collected as before."""
    gc.collect()
    gc.freeze()


def serve(settings: Settings, *, demo: DemoOptions | None = None) -> int:
    """Serve the gateway (and, with `demo`, the provider mocks) until interrupted."""
    vault_for(settings)  # no usable secret key, no start
    with claim_data_dir(settings.data_dir, exclusive=demo is not None):
        sock = bind(settings.host, settings.port)
        classes = load_adapters()
        running: Demo | None = None
        try:
            if demo is not None:
                running = start_demo(
                    classes, seed=demo.seed, key=settings.demo_key, latency_s=demo.mock_latency_s
                )
                running.configure(settings)
            app = create_app(
                settings,
                adapter_classes=classes,
                bootstrap=running.bootstrap if running is not None else None,
            )
            config = uvicorn.Config(
                app, log_level="warning", lifespan="on", http=ProblemH11Protocol
            )
            server = _AnnouncingServer(config, lambda: announce(settings, running))
            server.run(sockets=[sock])
        finally:
            sock.close()
            if running is not None:
                running.stop()
    return 0


def announce(settings: Settings, demo: Demo | None) -> None:
    """What a newcomer needs, printed once the gateway accepts requests."""
    base = f"http://{settings.host}:{settings.port}"
    mode = f"demo mode: data in {settings.data_dir}" if demo is not None else "ready"
    print(f"gateway: {base}  ({mode})")
    print(f"api docs: {base}/schema")
    print(f"dashboard: {base}/ui/  (connect providers and see what the API answers, with your key)")
    if demo is not None:
        for name, url in sorted(demo.provider_urls.items()):
            print(f"mock {name}: {url}")
        print(f"api key: {demo.key}")
        print(f"admin key: {demo.admin_key}  (for /v1/webhooks)")
        print(f"events: {base}/demo/events  (what the demo's receiver got, newest first)")
        print(f"try: curl -H 'Authorization: Bearer {demo.key}' '{base}/v1/activities?limit=5'")
    sys.stdout.flush()


def run_worker(settings: Settings) -> int:
    """`gateway worker`: one worker, with the gateway's adapters and store, until SIGINT or
    SIGTERM; the jobs it is running when told to stop are resumed (by it, restarted under
    the same --worker-id, or by another worker)."""
    app = create_app(settings, demo_key_file=True)
    worker_id = settings.worker_id or default_worker_id()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with app.lifespan():
            engine = Engine(app.state.gateway, worker_id=worker_id)
            await engine.start()
            settle_heap()  # as a server does once it listens: the jobs' loop is not held
            print(f"worker {worker_id}: serving the engine's queues", flush=True)
            try:
                await stop.wait()
            finally:
                await engine.stop()

    with claim_data_dir(settings.data_dir, exclusive=False):
        asyncio.run(run())
    return 0
