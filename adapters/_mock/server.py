"""Serving a mock over real HTTP on a loopback port, in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _PromptServer(uvicorn.Server):
    """uvicorn, stopping as soon as it is asked to: its main loop and its shutdown poll
    every 0.1 s, which is most of the time a test spends starting and stopping stacks."""

    async def main_loop(self) -> None:
        self._exit = asyncio.Event()
        if self.should_exit:
            return
        ticks = asyncio.create_task(super().main_loop())  # the Date header, request limits
        stop = asyncio.create_task(self._exit.wait())
        await asyncio.wait({ticks, stop}, return_when=asyncio.FIRST_COMPLETED)
        for task in (ticks, stop):
            task.cancel()

    def exit_now(self) -> None:
        """Called from any thread: stop serving now."""
        self.should_exit = True
        loop, event = getattr(self, "_loop", None), getattr(self, "_exit", None)
        if loop is not None and event is not None:
            loop.call_soon_threadsafe(event.set)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        deadline = time.monotonic() + (self.config.timeout_graceful_shutdown or 5.0)
        # uvicorn's server state offers no event to wait on; poll it, briefly.
        while (self.server_state.connections or self.server_state.tasks) and (  # noqa: ASYNC110
            time.monotonic() < deadline
        ):
            await asyncio.sleep(0.005)
        await self.lifespan.shutdown()

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)


class MockServer:
    """An ASGI app served by uvicorn on 127.0.0.1 in a daemon thread."""

    def __init__(
        self, app: Any, *, port: int = 0, host: str = "127.0.0.1", http: Any = "auto"
    ) -> None:
        self.host = host
        self.port = port or free_loopback_port()
        config = uvicorn.Config(
            app,
            host=host,
            port=self.port,
            log_level="warning",
            lifespan="on",
            access_log=False,
            http=http,
        )
        self._server = _PromptServer(config)
        self._thread = threading.Thread(target=self._run, name=f"mock:{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._server.serve())

    def start(self, timeout_s: float = 10.0) -> MockServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"mock server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.exit_now()
        self._thread.join(timeout=10)


@contextlib.contextmanager
def serve_mock(app: Any, *, port: int = 0) -> Iterator[MockServer]:
    """Serve `app` on a loopback port for the duration of the block."""
    server = MockServer(app, port=port).start()
    try:
        yield server
    finally:
        server.stop()
