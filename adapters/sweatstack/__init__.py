"""SweatStack: the adapter, its wire format and a faithful mock of its activity API."""

from adapters.sweatstack.client import SweatStackAdapter
from adapters.sweatstack.mock import SweatStackMock

__all__ = ["SweatStackAdapter", "SweatStackMock"]
