"""The connect page and developer dashboard at /ui/: static files shipped in the package (the
page, and the vendored uPlot it draws its charts with), which call the same /v1 API with the
key the user types in. Nothing here knows a key: the page sends it on every request itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Response, Router
from litestar.static_files import create_static_files_router

UI_PATH = "/ui"
STATIC = Path(__file__).resolve().parents[1] / "static"

# The page loads only what the gateway serves and talks only to the gateway: no inline script
# or style, no other origin, and no page may frame it (a framed key form invites clickjacking).
# Connecting a provider is a top-level navigation to the provider's authorization URL, which
# these directives do not restrict.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The page's URL never holds a key, but the provider needs no hint of where the user was.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


async def add_security_headers(response: Response[Any]) -> Response[Any]:
    response.headers.update(SECURITY_HEADERS)
    return response


def ui_router() -> Router:
    """/ui/: the dashboard's files, then uPlot's (one flat namespace, each name in one folder);
    outside the OpenAPI document, which describes the API rather than the page."""
    return create_static_files_router(
        path=UI_PATH,
        directories=[STATIC / "ui", STATIC / "uplot"],
        html_mode=True,
        name="ui",
        include_in_schema=False,
        after_request=add_security_headers,
    )
