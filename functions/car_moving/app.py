"""Car moving (自助移车) for the app: a requester verifies a phone by an SMS code, then asks the owner of the car
in the way to move it; the owner confirms by the link in the SMS. Neither party sees the other's number.

Thin by design: the routes are declared in `complaints.car_moving_api`, the work is the car-moving use case's
(`complaints.domain.desk.car_moving`); answers and errors have the public API's shape (`complaints.http_api`).
"""

from __future__ import annotations

import json
from functools import partial

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from complaints import car_moving_api, http_api, logs, wiring

logger = logs.logger()
copy_config_to_registered_loggers(source_logger=logger, include={"complaints"})
app = APIGatewayRestResolver(
    enable_validation=True, serializer=partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
)
moving = wiring.car_moving()
MAX_REQUEST_BYTES = wiring.max_request_bytes()
car_moving_api.install(app, moving)
car_moving_api.install_errors(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return http_api.refused_before_parsing(event, MAX_REQUEST_BYTES, "the request") or app.resolve(event, context)
