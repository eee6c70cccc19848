"""The built wheel, installed in a fresh virtualenv, serves another project's test suite: its
names (all under `training_gateway`) cannot clash with the project's own `models` and `gateway`
packages, its pytest plugin starts real mocks, and nothing needs the test extras.

To stay fast and offline, the fresh virtualenv reaches this one's site-packages through a
`.pth` line (for the dependencies). A directory added that way does not have its own `.pth`
files run, so this checkout's editable install is not inherited: the test checks that
`training_gateway` does not import there before the wheel is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = ("adapters", "gateway", "models")

PROJECT_TEST = """
import sys

import httpx
import pytest

import gateway
from models.user import User


def test_its_own_models_and_gateway_are_the_projects():
    assert User("ada").name == "ada"
    assert gateway.OWNER == "the project"


def test_the_plugin_comes_from_the_installed_wheel():
    import training_gateway.adapters.pytest_plugin as plugin

    assert plugin.__file__.startswith(sys.prefix)


def test_the_sweatstack_client_is_not_importable():
    with pytest.raises(ImportError, match="test extra"):
        import sweatstack  # noqa: F401


def test_sweatstack_mock_serves_activities_over_http(sweatstack_mock):
    response = httpx.get(
        sweatstack_mock.url + "/api/v1/activities/",
        headers={"Authorization": f"Bearer {sweatstack_mock.token}"},
    )
    assert response.status_code == 200 and response.json()


def test_provider_mock_starts_astral(provider_mock):
    astral = provider_mock("astral")
    response = httpx.get(
        astral.url + "/api/v1/activities", headers={"Authorization": f"Bearer {astral.token}"}
    )
    assert response.status_code == 200 and response.json()
"""


def run(args: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the checkout (a build writes into its source tree)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for layer in LAYERS:
        shutil.copytree(REPO / layer, source / layer, ignore=shutil.ignore_patterns("__pycache__"))
    dist = work / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, source], cwd=work)
    (built,) = dist.glob("training_gateway-*.whl")
    return built


def test_the_wheel_holds_every_module_and_the_migration_template(wheel: Path) -> None:
    files = set(zipfile.ZipFile(wheel).namelist())
    sources = {
        f"training_gateway/{path.relative_to(REPO).as_posix()}"
        for layer in LAYERS
        for path in (REPO / layer).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    listing = "\n".join(sorted(files))
    assert sources <= files, f"missing {sorted(sources - files)} from:\n{listing}"
    assert "training_gateway/gateway/storage/migrations/script.py.mako" in files, listing
    # The dashboard and the charting library it draws with, served from the package (/ui/).
    static = {
        f"training_gateway/{path.relative_to(REPO).as_posix()}"
        for folder in ("ui", "uplot", "swagger-ui")
        for path in (REPO / "gateway" / "static" / folder).iterdir()
    }
    assert "training_gateway/gateway/static/ui/index.html" in static
    assert "training_gateway/gateway/static/uplot/uPlot.iife.min.js" in static
    assert static <= files, f"missing {sorted(static - files)} from:\n{listing}"
    (info,) = {name.split("/")[0] for name in files} - {"training_gateway"}
    assert info.endswith(".dist-info"), "the wheel installs nothing beside training_gateway"
    entry_points = zipfile.ZipFile(wheel).read(f"{info}/entry_points.txt").decode()
    assert "[training_gateway.mocks]" in entry_points and "[pytest11]" in entry_points


def test_another_projects_suite_runs_on_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path)
    python = venv / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    purelib = Path(run([python, "-c", where], cwd=tmp_path).strip())
    (purelib / "_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    missing = subprocess.run(
        [python, "-c", "import training_gateway"], cwd=tmp_path, capture_output=True, text=True
    )
    assert missing.returncode != 0 and "No module named 'training_gateway'" in missing.stderr
    # pip comes through the .pth too; it must not mistake the editable install for this one.
    install = ["install", "--no-deps", "--no-index", "--ignore-installed", "-q", wheel]
    run([python, "-m", "pip", *install], cwd=tmp_path)
    # `pytest` on PATH, as installing pytest into the venv would write it.
    script = venv / "bin" / "pytest"
    script.write_text(
        f"#!{python}\nimport sys\nfrom pytest import console_main\nsys.exit(console_main())\n"
    )
    script.chmod(0o755)

    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "models" / "__init__.py").write_text("")
    (project / "models" / "user.py").write_text(
        "class User:\n    def __init__(self, name):\n        self.name = name\n"
    )
    (project / "gateway").mkdir()
    (project / "gateway" / "__init__.py").write_text('OWNER = "the project"\n')
    (project / "conftest.py").write_text("")  # puts the project's root on sys.path
    (project / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    (project / "tests").mkdir()
    (project / "tests" / "test_app.py").write_text(PROJECT_TEST)
    # The test extras are not installed: `sweatstack` and `pandas` refuse to import.
    shadow = tmp_path / "without-test-extras"
    for extra in ("sweatstack", "pandas"):
        (shadow / extra).mkdir(parents=True)
        (shadow / extra / "__init__.py").write_text(
            f'raise ImportError("{extra} is a test extra, not installed here")\n'
        )
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTEST_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH=str(shadow))
    assert shutil.which("pytest", path=env["PATH"]) == str(script)

    for command in ([python, "-m", "pytest"], ["pytest"]):
        output = run([*command, "-q"], cwd=project, env=env)
        assert "5 passed" in output, output
