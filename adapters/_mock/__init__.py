"""Pieces every provider mock shares: signed tokens, synthetic history, a loopback server."""

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
