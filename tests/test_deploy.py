"""docs/deploy.md as an operator follows it: its shell blocks run in order in one session,
the systemd units it installs pass `systemd-analyze verify`, and its `gateway doctor` passes."""

from __future__ import annotations

import configparser
import os
import shlex
import subprocess
import sys
from pathlib import Path

from tests.test_cli import env, processes, start
from tests.test_readme import BLOCK, ROOT
from training_gateway.adapters._mock.server import free_loopback_port
from training_gateway.gateway.cli import build_parser

__all__ = ["env", "processes"]  # the fixtures these tests share with tests/test_cli.py

DEPLOY = ROOT / "docs" / "deploy.md"
UNITS = ("gateway.service", "gateway-worker.service")


def shell_blocks() -> list[str]:
    found = [m for m in BLOCK.finditer(DEPLOY.read_text()) if m["lang"] == "bash"]
    assert all(m["directive"] == "shell deploy" for m in found), "every bash block is run"
    return [m["code"] for m in found]


def test_the_deploy_guide_runs_as_written(
    env: dict[str, str], processes: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    port = free_loopback_port()
    processes.append(start(["mock", "astral", "--port", str(port)], env, "token: ")[0])
    session = {k: v for k, v in env.items() if not k.startswith("GATEWAY_")} | {
        "ETC": str(tmp_path / "etc"),
        "DATA": str(tmp_path / "data"),
        "UNITS": str(tmp_path / "units"),
        "PREFIX": str(Path(sys.executable).parent.parent.parent),
        "ASTRAL_URL": f"http://127.0.0.1:{port}",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
    }
    (tmp_path / "units").mkdir()
    assert (Path(session["PREFIX"]) / ".venv" / "bin" / "gateway").exists()
    script = "set -euo pipefail\n" + "\n".join(shell_blocks())
    result = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=session, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("ok   clock vs astral: ") for line in lines), lines
    assert not any(line.startswith("FAIL") for line in lines)
    assert oct((tmp_path / "etc" / "gateway.env").stat().st_mode & 0o777) == "0o600"


def test_the_units_start_commands_the_cli_accepts() -> None:
    for unit in UNITS:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read(ROOT / "docs" / "deploy" / unit)
        command = shlex.split(parser["Service"]["ExecStart"])
        assert command[0] == "/opt/training-gateway/.venv/bin/gateway"
        # Parsed by the CLI's own parser: an unknown command or option fails here.
        parsed = build_parser().parse_args(command[1:])
        assert parsed.command == ("worker" if "worker" in unit else "serve")
