"""Agency: the staff's API. API Gateway's Cognito authorizer has checked the caller's ID token before this runs
(StaffAuthorizer in template.yaml); the caller's agency is the token's group.

Thin by design: who the caller is comes from `complaints.staff`; answers and errors have the public API's shape.
"""

from __future__ import annotations

import json
from functools import partial
from http import HTTPStatus

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from complaints import logs, wiring
from complaints.staff import NotStaff, staff_member

logger = logs.logger()
copy_config_to_registered_loggers(source_logger=logger, include={"complaints"})
app = APIGatewayRestResolver(serializer=partial(json.dumps, ensure_ascii=False, separators=(",", ":")))
city = wiring.staff_city()


@app.get("/agency/me")
def who_am_i() -> dict:
    """The signed-in staff member and their agency: what the workspace shows in its header."""
    return staff_member(app.current_event.request_context.authorizer.claims, city).as_dict()


@app.exception_handler(NotStaff)
def _not_staff(e: NotStaff) -> Response:
    return Response(
        status_code=HTTPStatus.FORBIDDEN,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"error": {"code": "not_staff", "message": str(e)}}, ensure_ascii=False),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
