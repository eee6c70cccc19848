"""The SweatStack mock's HTTP API, one controller per resource. Handlers ask for the `store`
(a `SweatStackStore`) and the bearer token's `claims` by name; `app.create_app` provides them."""

from training_gateway.adapters.sweatstack.mock.api.activities import ActivitiesController
from training_gateway.adapters.sweatstack.mock.api.dailies import DailiesController
from training_gateway.adapters.sweatstack.mock.api.longitudinal import LongitudinalController
from training_gateway.adapters.sweatstack.mock.api.profile import (
    ProfileController,
    UsersController,
    token_exchange_routes,
)
from training_gateway.adapters.sweatstack.mock.api.tests import LabTestsController
from training_gateway.adapters.sweatstack.mock.api.traces import (
    ActivityAppMetadataController,
    TracesController,
)

__all__ = [
    "ActivitiesController",
    "ActivityAppMetadataController",
    "DailiesController",
    "LabTestsController",
    "LongitudinalController",
    "ProfileController",
    "TracesController",
    "UsersController",
    "token_exchange_routes",
]
