"""Authentication: gateway callers (API keys), and provider connections (OAuth2 with PKCE,
OpenID Connect, refresh) in `oauth`, `flow` and `tokens`."""

from __future__ import annotations

from typing import Any

__all__ = ["provide_state", "resolve_caller"]


def __getattr__(name: str) -> Any:
    # Lazily: gateway.state imports this package's protocol modules, and caller needs the state.
    if name in __all__:
        from training_gateway.gateway.auth import caller

        return getattr(caller, name)
    raise AttributeError(name)
