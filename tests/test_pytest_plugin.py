"""The pytest plugin other projects use: its fixtures start real mocks on loopback."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from training_gateway.adapters.pytest_plugin import RunningMock, StartMock


def test_sweatstack_fixture_serves_the_official_client(sweatstack_mock: RunningMock) -> None:
    import sweatstack

    assert sweatstack_mock.url.startswith("http://127.0.0.1:")
    client = sweatstack.Client(api_key=sweatstack_mock.token, url=sweatstack_mock.url)
    activities = client.activities.list(limit=3)
    assert len(activities) == 3
    assert client.activities.retrieve(activities[0].id).id == activities[0].id


def test_astral_fixture_gives_url_and_token(astral_mock: RunningMock) -> None:
    response = httpx.get(
        astral_mock.url + "/api/v1/activities",
        headers={"Authorization": f"Bearer {astral_mock.token}"},
    )
    assert response.status_code == 200 and response.json()
    assert httpx.get(astral_mock.url + "/api/v1/activities").status_code == 401


def test_factory_seeds_and_injects_faults(provider_mock: StartMock) -> None:
    first, second = provider_mock("astral", seed=7), provider_mock("astral", seed=7)
    get = lambda m: httpx.get(  # noqa: E731
        m.url + "/api/v1/activities", headers={"Authorization": f"Bearer {m.token}"}
    )
    assert [a["activity_id"] for a in get(first).json()] == [
        a["activity_id"] for a in get(second).json()
    ]
    first.mock.faults.fail_next(503)
    assert get(first).status_code == 503
    with pytest.raises(LookupError):
        provider_mock("strava")


def test_importing_the_plugin_loads_no_mock_adapter_or_heavy_library() -> None:
    # pytest imports the plugin into every test session of every project that installs us.
    code = "import sys, training_gateway.adapters.pytest_plugin; print(*sorted(sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(run.stdout.split())
    heavy = {"litestar", "numpy", "pyarrow", "msgspec", "httpx", "uvicorn", "sweatstack", "pandas"}
    assert not {module.split(".")[0] for module in loaded} & heavy
    assert {module for module in loaded if module.startswith("training_gateway.")} == {
        "training_gateway.adapters",
        "training_gateway.adapters.pytest_plugin",
    }
