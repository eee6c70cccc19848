"""Astral (nexrex): the adapter for its Activities API and a faithful mock of it."""

from training_gateway.adapters.astral.client import AstralAdapter
from training_gateway.adapters.astral.mock import AstralMock

__all__ = ["AstralAdapter", "AstralMock"]
