"""Every code block of the README runs, as written, in a copy of this repository.

Each fenced block is preceded by a directive saying how it is run:

- `<!-- run: shell SESSION -->`: bash, in the order of the README, in one copy of the
  repository (so `.venv` made by the quick start is there), with the session's exported
  variables carried from block to block; `background "TEXT"` runs it in the background
  until it prints TEXT (a server), and it is stopped at the end.
- `<!-- run: python SESSION -->`: Python, run by the quick start's `.venv` within that shell
  session (its exported variables in `os.environ`, its servers up), in README order.
- `<!-- run: ci -->`: the command CI runs; it must stand in `.ci/run` verbatim.
- `<!-- run: pytest -->`: a test file, run by pytest with this package's plugin.
- `<!-- run: toml entry-points -->`: entry points a provider package declares, which must
  name the groups the gateway reads.
- `<!-- run: json NAME -->`: an answer's shape, which must decode as that response Struct.

The only liberties taken: the ports the README names (8000, 9001) become free ones, and
`/tmp/gw` a temporary directory, so that runs never collide.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from training_gateway.adapters._mock.registry import MOCK_ENTRY_POINT_GROUP
from training_gateway.adapters._mock.server import free_loopback_port
from training_gateway.adapters.base import ENTRY_POINT_GROUP
from training_gateway.gateway.services.events import EventBody
from training_gateway.gateway.services.federation import ActivityPage
from training_gateway.gateway.services.leaving import UserDeleted
from training_gateway.gateway.services.wellness import DailyList

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^[ \t]*```(\w+)[ \t]*$", re.M)
BLOCK = re.compile(
    r"^[ \t]*<!-- run: (?P<directive>.*?) -->[ \t]*\n"
    r"(?P<indent>[ \t]*)```(?P<lang>\w+)[ \t]*\n(?P<code>.*?)\n[ \t]*```",
    re.S | re.M,
)
# Response Structs a `json` block may show.
SHAPES: dict[str, type] = {
    "ActivityPage": ActivityPage,
    "DailyList": DailyList,
    "EventBody": EventBody,
    "UserDeleted": UserDeleted,
}


@dataclass
class Block:
    directive: list[str]
    lang: str
    code: str
    line: int


def blocks() -> list[Block]:
    text = README.read_text()
    found = []
    for match in BLOCK.finditer(text):
        code = textwrap.dedent(match.group("indent") + match.group("code"))
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(shlex.split(match.group("directive")), match.group("lang"), code, line))
    return found


def test_every_code_block_says_how_it_is_run() -> None:
    fences = FENCE.findall(README.read_text())
    assert len(fences) == len(blocks()), "a fenced block of the README has no <!-- run: --> line"
    kinds = {"shell", "python", "ci", "pytest", "toml", "json"}
    assert {b.directive[0] for b in blocks()} <= kinds


def test_the_ci_block_is_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    for block in (b for b in blocks() if b.directive[0] == "ci"):
        assert block.code.strip() in ci, block.code


@pytest.mark.parametrize(
    "block", [b for b in blocks() if b.directive[0] == "toml"], ids=lambda b: f"line{b.line}"
)
def test_entry_point_blocks_name_the_groups_the_gateway_reads(block: Block) -> None:
    groups = tomllib.loads(block.code)["project"]["entry-points"]
    assert set(groups) <= {ENTRY_POINT_GROUP, MOCK_ENTRY_POINT_GROUP}
    for entries in groups.values():
        for target in entries.values():
            module, _, name = target.partition(":")
            assert module and name.isidentifier(), target


@pytest.mark.parametrize(
    "block", [b for b in blocks() if b.directive[0] == "json"], ids=lambda b: f"line{b.line}"
)
def test_answer_shapes_decode_as_the_answers_do(block: Block) -> None:
    msgspec.json.decode(block.code, type=SHAPES[block.directive[1]])


@pytest.mark.parametrize(
    "block", [b for b in blocks() if b.directive[0] == "pytest"], ids=lambda b: f"line{b.line}"
)
def test_python_examples_pass_under_pytest(block: Block, tmp_path: Path) -> None:
    (tmp_path / "test_example.py").write_text(block.code)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository as a newcomer has it: its tracked files, nothing built."""
    copy = tmp_path_factory.mktemp("readme") / "repo"
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        source = ROOT / name
        if source.is_file() or source.is_symlink():
            target = copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_symlink():
                target.symlink_to(os.readlink(source))
            else:
                target.write_bytes(source.read_bytes())
    return copy


# Shell variables a block may set for later ones (KEY=..., exports); bash's own are left out.
_CARRY = (
    "compgen -v | grep -E '^[A-Za-z_][A-Za-z0-9_]*$' | grep -v -E "
    "'^(BASH.*|BASHOPTS|SHELLOPTS|EUID|PPID|UID|GROUPS|HOSTNAME|HOSTTYPE|MACHTYPE|OSTYPE|"
    "OPTERR|OPTIND|OPTARG|PIPESTATUS|RANDOM|SRANDOM|SECONDS|LINENO|EPOCH.*|HISTCMD|DIRSTACK|"
    "COMP.*|IFS|PS[0-9]|PWD|OLDPWD|SHLVL|_|FUNCNAME)$'"
)


class Session:
    """One bash session of README blocks: variables carried over, servers in the background."""

    def __init__(self, name: str, cwd: Path) -> None:
        self.name = name
        self.cwd = cwd
        self.state = cwd.parent / f"{name}.vars"
        self.state.write_text("")
        self.substitutions = {
            ":8000": f":{free_loopback_port()}",
            ":9001": f":{free_loopback_port()}",
            "/tmp/gw": str(cwd.parent / f"{name}-gw"),
        }
        self.background: list[subprocess.Popen[str]] = []
        data_home = cwd.parent / f"{name}-data"
        data_home.mkdir(exist_ok=True)
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GATEWAY_", "XDG_", "VIRTUAL_ENV"))
        }
        self.env = {
            **base,
            # The per-user data directory of this session alone.
            "XDG_DATA_HOME": str(data_home),
            "PATH": f"{cwd / '.venv' / 'bin'}{os.pathsep}{base['PATH']}",
            "GATEWAY_PORT": self.substitutions[":8000"].lstrip(":"),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }

    def _script(self, code: str) -> str:
        for old, new in self.substitutions.items():
            code = code.replace(old, new)
        carry = f'for v in $({_CARRY}); do declare -p "$v"; done > {self.state}.new 2>/dev/null'
        return (
            f". {self.state}\nset -e\n{code}\nset +e\n{carry}\nmv {self.state}.new {self.state}\n"
        )

    def run(self, block: Block, timeout_s: float = 600) -> None:
        result = subprocess.run(
            ["bash", "-c", self._script(block.code)],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        assert result.returncode == 0, (
            f"README line {block.line} failed:\n{result.stdout}\n{result.stderr}"
        )

    def start(self, block: Block, until: str, timeout_s: float = 600) -> None:
        process = subprocess.Popen(
            ["bash", "-c", self._script(block.code)],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.background.append(process)
        assert process.stdout is not None
        seen: list[str] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            if until in line:
                return
        raise AssertionError(f"README line {block.line} never printed {until!r}:\n{''.join(seen)}")

    def stop(self) -> None:
        for process in self.background:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)


@pytest.fixture(scope="module")
def sessions(checkout: Path) -> Iterator[dict[str, Session]]:
    started: dict[str, Session] = {}
    yield started
    for session in started.values():
        session.stop()


def _as_shell(block: Block) -> Block:
    """A python block as the shell command that runs it in its session."""
    if block.directive[0] != "python":
        return block
    fence = "README_PYTHON_BLOCK"
    assert fence not in block.code
    script = f"python - <<'{fence}'\n{block.code}\n{fence}"
    return Block(block.directive, "sh", script, block.line)


def test_shell_blocks_run_as_written(checkout: Path, sessions: dict[str, Session]) -> None:
    for block in (_as_shell(b) for b in blocks() if b.directive[0] in ("shell", "python")):
        name = block.directive[1]
        session = sessions.get(name)
        if session is None:
            session = sessions[name] = Session(name, checkout)
        if "background" in block.directive:
            session.start(block, until=block.directive[block.directive.index("background") + 1])
        else:
            session.run(block)
