"""Pieces every provider mock shares: `base` (the facade, `ProviderMock`, and the
`MockProvider` protocol), `tokens` (signed tokens), `oauth` (the authorization server),
`faults`, `server` (a loopback server), `synthetic` (training data) and `registry` (the
`training_gateway.mocks` entry points)."""

from training_gateway.adapters._mock.faults import FaultInjector
from training_gateway.adapters._mock.server import MockServer, serve_mock
from training_gateway.adapters._mock.synthetic import SyntheticSession, synthesize_history
from training_gateway.adapters._mock.tokens import TokenIssuer, TokenRejected

__all__ = [
    "FaultInjector",
    "MockServer",
    "SyntheticSession",
    "TokenIssuer",
    "TokenRejected",
    "serve_mock",
    "synthesize_history",
]
