"""The SweatStack mock's HTTP API, one controller per resource. Handlers ask for the `store`
(a `SweatStackStore`) and the bearer token's `claims` by name; `app.create_app` provides them."""

from training_gateway.adapters.sweatstack.mock.api.activities import ActivitiesController
from training_gateway.adapters.sweatstack.mock.api.longitudinal import LongitudinalController
from training_gateway.adapters.sweatstack.mock.api.tests import LabTestsController

__all__ = ["ActivitiesController", "LabTestsController", "LongitudinalController"]
