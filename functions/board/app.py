"""Board: the public board's API (公开栏). No sign-in, nothing personal: it reads BoardTable, which holds only what
the public may see (the board projection writes it), never the tickets table.

Thin by design: the routes are declared in `complaints.board_api`, the work is the board use case's
(`complaints.domain.desk.board`); answers and errors have the public API's shape (`complaints.http_api`).
"""

from __future__ import annotations

import json
from functools import partial
from http import HTTPStatus

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from complaints import board_api, http_api, logs, wiring
from complaints.domain.desk.board import BadCursor

logger = logs.logger()
copy_config_to_registered_loggers(source_logger=logger, include={"complaints"})
app = APIGatewayRestResolver(
    enable_validation=True, serializer=partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
)
board = wiring.board()
board_api.install(app, board.city, board.page, board.ticket)
http_api.install(app, "the request", statuses={BadCursor: HTTPStatus.BAD_REQUEST})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
