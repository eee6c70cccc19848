"""Astral (nexrex): the adapter for its Activities API. Its mock is `training_gateway.adapters.astral.mock`."""

from training_gateway.adapters.astral.client import AstralAdapter

__all__ = ["AstralAdapter"]
