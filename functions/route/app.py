"""Route: publish each classified ticket to the agencies (SNS `dispatch`) or to human triage (SNS `triage`)."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from complaints import wiring
from complaints.queue_worker import ticket_batch_handler

logger = Logger()
desk = wiring.route_desk()
lambda_handler = ticket_batch_handler(desk.route, logger)
