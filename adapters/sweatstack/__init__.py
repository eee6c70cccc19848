"""SweatStack: the adapter and its wire format. Its mock is `training_gateway.adapters.sweatstack.mock`."""

from training_gateway.adapters.sweatstack.client import SweatStackAdapter

__all__ = ["SweatStackAdapter"]
