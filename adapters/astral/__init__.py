"""Astral (nexrex): the adapter for its Activities API and a faithful mock of it."""

from adapters.astral.client import AstralAdapter
from adapters.astral.mock import AstralMock

__all__ = ["AstralAdapter", "AstralMock"]
