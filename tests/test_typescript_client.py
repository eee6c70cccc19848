"""The TypeScript client in clients/typescript: its generated types are those of the committed
OpenAPI document (which tests/test_openapi.py holds to the server), it type-checks and builds,
and its Node tests pass against a demo gateway on loopback."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from training_gateway.adapters._mock.server import free_loopback_port

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "clients" / "typescript"
COMMITTED_SCHEMA = CLIENT / "src" / "schema.d.ts"
EXAMPLE = CLIENT / "examples" / "quickstart.ts"
GUIDE = ROOT / "docs" / "typescript-client.md"


def run(args: list[str], timeout_s: float, env: dict[str, str] | None = None) -> str:
    """Run a command in the client's folder; its output, or a failure that shows it."""
    result = subprocess.run(
        args, cwd=CLIENT, capture_output=True, text=True, timeout=timeout_s, env=env
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}:\n{output}"
    return output


@pytest.fixture(scope="module")
def installed() -> Path:
    """The client's folder with its locked dependencies installed (`npm ci` on first use)."""
    npm = shutil.which("npm")
    assert npm is not None and shutil.which("node"), "the TypeScript client needs node and npm"
    # npm's record of what it installed; older than the lock file, the install is stale.
    installed_lock = CLIENT / "node_modules" / ".package-lock.json"
    lock = CLIENT / "package-lock.json"
    if not installed_lock.exists() or installed_lock.stat().st_mtime < lock.stat().st_mtime:
        run([npm, "ci", "--no-audit", "--no-fund"], timeout_s=600)
    return CLIENT


@dataclass
class DemoGateway:
    url: str
    key: str
    log: Path
    process: subprocess.Popen[bytes]

    def wait_ready(self, timeout_s: float = 90) -> None:
        """Until the demo prints its `try:` line, which it does once it listens."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if "\ntry: " in "\n" + self.log.read_text(errors="replace"):
                return
            assert self.process.poll() is None, f"the demo gateway exited:\n{self.log.read_text()}"
            time.sleep(0.1)
        raise AssertionError(f"the demo gateway never became ready:\n{self.log.read_text()}")


@pytest.fixture
def demo_gateway(tmp_path: Path) -> Iterator[DemoGateway]:
    """`gateway serve --demo` as a user runs it, its log in a file (a pipe left unread would
    fill and stall it). Started, not awaited: the compiler runs meanwhile."""
    port = free_loopback_port()
    key = "gw_demo_" + secrets.token_urlsafe(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")} | {
        "GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "GATEWAY_DEMO_KEY": key,
    }
    log = tmp_path / "gateway.log"
    command = [sys.executable, "-m", "training_gateway.gateway.cli", "serve", "--demo"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        yield DemoGateway(url=f"http://127.0.0.1:{port}", key=key, log=log, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_committed_schema_is_generated_from_the_committed_openapi_document(
    installed: Path, tmp_path: Path
) -> None:
    fresh = tmp_path / "schema.d.ts"
    generator = installed / "node_modules" / ".bin" / "openapi-typescript"
    run([str(generator), str(ROOT / "openapi" / "openapi.json"), "-o", str(fresh)], timeout_s=120)
    assert fresh.read_text() == COMMITTED_SCHEMA.read_text(), (
        "clients/typescript/src/schema.d.ts is stale: run `npm run generate` in clients/typescript"
    )


def test_the_guide_shows_the_example_as_an_app_imports_it() -> None:
    shown = re.findall(r"^```ts\n(.*?)^```$", GUIDE.read_text(), re.S | re.M)
    example = EXAMPLE.read_text().replace('"../src/index.js"', '"@training-gateway/client"')
    assert shown == [example]


def test_client_type_checks_builds_and_passes_its_node_tests_against_the_demo(
    installed: Path, demo_gateway: DemoGateway
) -> None:
    npx = shutil.which("npx")
    assert npx is not None
    run([npx, "--no-install", "tsc", "--noEmit"], timeout_s=180)
    run(["npm", "run", "build"], timeout_s=180)
    demo_gateway.wait_ready()
    env = {**os.environ, "GATEWAY_URL": demo_gateway.url, "GATEWAY_KEY": demo_gateway.key}
    output = run(["npm", "test"], timeout_s=120, env=env)
    # Node's runner ends with its counts: every test ran, and passed.
    counts = dict(re.findall(r"^# (tests|pass|fail) (\d+)$", output, re.M))
    assert int(counts["tests"]) > 0 and counts["pass"] == counts["tests"], output

    example = run(["node", "dist/examples/quickstart.js"], timeout_s=60, env=env).splitlines()
    activities, created, deleted = example
    assert activities.startswith("activities: {") and "sweatstack" in activities, example
    assert "astral" in activities and "local" not in activities, example
    assert re.fullmatch(r"created: local:\S+ running 2026-11-30T07:30:00Z", created), example
    assert deleted == "deleted: 404 Not found", example
