"""Starting the real processes a benchmark measures: two provider mocks and a gateway,
each its own process on loopback, wired together as a deployment would be."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import httpx

from training_gateway.adapters._mock.server import free_loopback_port

GATEWAY = [sys.executable, "-m", "training_gateway.gateway.cli"]


def _wait_http(url: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class Stack:
    gateway_url: str
    key: str
    mock_urls: dict[str, str]
    mock_tokens: dict[str, str]
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    data_dir: str = ""

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def start_stack(
    *,
    latency_ms: float = 0.0,
    seed: int = 0,
    days: int = 90,
    gateway_env: dict[str, str] | None = None,
) -> Stack:
    """Both mocks (adding `latency_ms` to each request) and a gateway with one connected user
    (`gateway_env`: more settings for the gateway process)."""
    data_dir = tempfile.mkdtemp(prefix="gateway-bench-")
    secret = subprocess.run(
        [*GATEWAY, "secret-key"], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {**os.environ, "GATEWAY_DATA_DIR": data_dir, "GATEWAY_SECRET_KEY": secret}
    stack = Stack(gateway_url="", key="", mock_urls={}, mock_tokens={}, data_dir=data_dir)
    try:
        for provider in ("sweatstack", "astral"):
            port = free_loopback_port()
            process = subprocess.Popen(
                [
                    *GATEWAY,
                    "mock",
                    provider,
                    "--port",
                    str(port),
                    "--seed",
                    str(seed),
                    "--latency-ms",
                    str(latency_ms),
                    "--days",
                    str(days),
                ],
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            stack.processes.append(process)
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith("token: "):
                    stack.mock_tokens[provider] = line.split(" ", 1)[1].strip()
                    break
            stack.mock_urls[provider] = f"http://127.0.0.1:{port}"
            env[f"GATEWAY_{provider.upper()}_URL"] = stack.mock_urls[provider]
        created = subprocess.run(
            [*GATEWAY, "users", "create", "bench"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        stack.key = created.stdout.strip().splitlines()[-1]
        for provider, token in stack.mock_tokens.items():
            subprocess.run(
                [*GATEWAY, "connections", "set", "bench", provider],
                input=token + "\n",
                text=True,
                env=env,
                check=True,
                capture_output=True,
            )
        port = free_loopback_port()
        gateway = subprocess.Popen(
            [*GATEWAY, "serve", "--port", str(port)], env={**env, **(gateway_env or {})}, text=True
        )
        stack.processes.append(gateway)
        stack.gateway_url = f"http://127.0.0.1:{port}"
        for url in [*stack.mock_urls.values(), stack.gateway_url + "/health"]:
            _wait_http(url)
    except BaseException:
        stack.stop()
        raise
    return stack
