"""Providers are plugins: an installed package's entry point adds one without touching the gateway."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from training_gateway.adapters._mock.registry import MOCK_ENTRY_POINT_GROUP, load_mock_factories
from training_gateway.adapters._mock.server import MockServer
from training_gateway.adapters.base import (
    ENTRY_POINT_GROUP,
    AdapterContractError,
    check_capabilities,
    load_adapters,
)
from training_gateway.gateway.app import create_app
from training_gateway.gateway.settings import load_settings

PLUGIN = """
from typing import ClassVar

from training_gateway.adapters.base import AuthKind, Capability


class ThirdPartyAdapter:
    name: ClassVar[str] = "thirdparty"
    display_name: ClassVar[str] = "A third-party provider"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.LIST_ACTIVITIES})
    auth_kind: ClassVar[AuthKind] = AuthKind.BEARER
    oauth_scope: ClassVar[str | None] = None
    patch_preserved_extensions: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, base_url, http):
        self.base_url = base_url

    async def list_activities(self, creds, query, *, offset, limit):
        return []

    async def get_activity(self, creds, native_id):
        raise LookupError(native_id)


class ContradictoryAdapter(ThirdPartyAdapter):
    name: ClassVar[str] = "contradictory"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.UPLOAD})


def create_mock(seed=0, *, history_days=90):
    return ("a third-party mock", seed, history_days)
"""


@pytest.fixture
def installed_plugin(tmp_path: Path) -> Iterator[None]:
    """A distribution on sys.path declaring an adapter and its mock under the gateway's
    entry-point groups."""
    (tmp_path / "thirdparty_gateway.py").write_text(PLUGIN)
    info = tmp_path / "thirdparty_gateway-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: thirdparty-gateway\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nthirdparty = thirdparty_gateway:ThirdPartyAdapter\n"
        f"[{MOCK_ENTRY_POINT_GROUP}]\nthirdparty = thirdparty_gateway:create_mock\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("thirdparty_gateway", None)


def test_built_in_providers_come_from_entry_points() -> None:
    assert {"sweatstack", "astral"} <= set(load_adapters())


def test_an_adapter_declaring_a_capability_it_lacks_is_refused_at_load(tmp_path: Path) -> None:
    sys.path.insert(0, str(tmp_path))
    (tmp_path / "contradicting_gateway.py").write_text(PLUGIN)
    try:
        from contradicting_gateway import ContradictoryAdapter  # type: ignore[import-not-found]

        with pytest.raises(AdapterContractError, match=r"'activities:upload'.*upload_files"):
            check_capabilities(ContradictoryAdapter)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("contradicting_gateway", None)


def test_built_in_mocks_come_from_their_own_entry_points() -> None:
    assert {"sweatstack", "astral"} <= set(load_mock_factories())


def test_an_installed_package_adds_a_mock(installed_plugin: None) -> None:
    create_mock = load_mock_factories()["thirdparty"]
    assert create_mock(4, history_days=7) == ("a third-party mock", 4, 7)


def test_an_installed_package_adds_a_provider(installed_plugin: None, tmp_path: Path) -> None:
    adapters = load_adapters()
    assert adapters["thirdparty"].display_name == "A third-party provider"
    settings = load_settings(
        {},
        data_dir=tmp_path / "data",
        secret_keys=(Fernet.generate_key().decode(),),
        provider_urls={"thirdparty": "http://127.0.0.1:9"},
        engine="off",
    )
    server = MockServer(create_app(settings, adapter_classes=adapters)).start(timeout_s=30)
    try:
        health = httpx.get(server.url + "/health").json()
        assert "thirdparty" in health["providers"]
    finally:
        server.stop()
