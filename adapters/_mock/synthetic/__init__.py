"""Synthetic training data, shared by the mocks, the tests and the benchmarks.

- `sessions`: a deterministic training history of `SyntheticSession`s whose 1 Hz streams are
  generated lazily (what the mocks are seeded with).
- `recordings`: `synthetic_activity`, one realistic recording as `models.fit.decode_fit`
  returns a decoded file.
- `fit_writer`: `encode_fit`, such a recording as a FIT activity file.
"""

from training_gateway.adapters._mock.synthetic.fit_writer import encode_fit
from training_gateway.adapters._mock.synthetic.recordings import synthetic_activity
from training_gateway.adapters._mock.synthetic.sessions import SyntheticSession, synthesize_history

__all__ = ["SyntheticSession", "encode_fit", "synthesize_history", "synthetic_activity"]
