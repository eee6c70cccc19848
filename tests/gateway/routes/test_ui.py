"""/ui/: the dashboard's static files, from the package, with a policy that lets the page load
and call nothing but the gateway."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import RunningGateway
from training_gateway.gateway.services.connections import check_return_to, return_to_allowlist
from training_gateway.gateway.settings import load_settings
from training_gateway.models.errors import InvalidInput


def test_the_page_and_its_scripts_are_served_with_a_self_only_policy(
    readonly_gateway: RunningGateway,
) -> None:
    page = httpx.get(f"{readonly_gateway.url}/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "http" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    # Every script and stylesheet the page names is the gateway's own, and is served.
    assets = re.findall(r'(?:src|href)="(/ui/[^"]+)"', page.text)
    assert {"/ui/dashboard.js", "/ui/uPlot.iife.min.js", "/ui/uPlot.min.css"} <= set(assets)
    assert "<script>" not in page.text  # no inline script for the policy to refuse
    for asset in assets:
        answer = httpx.get(f"{readonly_gateway.url}{asset}")
        assert answer.status_code == 200, asset
        assert answer.headers["content-security-policy"] == policy
    assert httpx.get(f"{readonly_gateway.url}/ui/missing.js").status_code == 404


def test_the_dashboard_is_not_part_of_the_api_document(readonly_gateway: RunningGateway) -> None:
    document = httpx.get(f"{readonly_gateway.url}/schema/openapi.json").json()
    assert not [path for path in document["paths"] if path.startswith("/ui")]


def test_the_gateways_own_connect_page_is_an_allowed_return_to(tmp_path: Path) -> None:
    settings = load_settings(
        {}, data_dir=tmp_path, public_url="https://gateway.example/", return_to_allowlist=()
    )
    allowed = return_to_allowlist(settings)
    check_return_to("https://gateway.example/ui/", allowed, demo=False)
    for elsewhere in ("https://gateway.example/v1/activities", "https://evil.example/ui/"):
        with pytest.raises(InvalidInput) as refused:
            check_return_to(elsewhere, allowed, demo=False)
        assert refused.value.field == "return_to"
