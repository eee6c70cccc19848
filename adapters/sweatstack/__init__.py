"""SweatStack: the adapter, its wire format and a faithful mock of its activity API."""

from training_gateway.adapters.sweatstack.client import SweatStackAdapter
from training_gateway.adapters.sweatstack.mock import SweatStackMock

__all__ = ["SweatStackAdapter", "SweatStackMock"]
