"""Agency: the staff's API. API Gateway's Cognito authorizer has checked the caller's ID token before this runs
(StaffAuthorizer in template.yaml); the caller's agency is the token's group.

Thin by design: who the caller is comes from `complaints.staff`, the work from the agency-work and triage use cases;
answers and errors have the public API's shape (`complaints.http_api`).
"""

from __future__ import annotations

import json
from datetime import date
from functools import partial
from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from complaints import http_api, logs, wiring
from complaints.domain.desk.agency_work import MAX_ANSWER_CHARS, MAX_REASON_CHARS, BadCursor, ExtensionRefused
from complaints.staff import NotStaff, StaffMember, staff_member

logger = logs.logger()
copy_config_to_registered_loggers(source_logger=logger, include={"complaints"})
app = APIGatewayRestResolver(
    enable_validation=True, serializer=partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
)
work = wiring.agency_work()
triage = wiring.triage(work)
city = work.city
MAX_REQUEST_BYTES = 64 * 1024  # an answer of 5,000 characters is 15 KB of UTF-8


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReplyIn(Strict):
    text: str = Field(min_length=1, max_length=MAX_ANSWER_CHARS, strict=True)


class ReturnIn(Strict):
    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS, strict=True)


class ExtendIn(Strict):
    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS, strict=True)
    until: date = Field(description="The new last day to answer, YYYY-MM-DD")


class AssignIn(Strict):
    agency: str = Field(min_length=1, max_length=64, strict=True)
    note: str | None = Field(default=None, max_length=MAX_REASON_CHARS, strict=True)


class ModerationIn(Strict):
    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS, strict=True)


def me() -> StaffMember:
    return staff_member(app.current_event.request_context.authorizer.claims, city)


@app.get("/agency/me")
def who_am_i() -> dict:
    """The signed-in staff member and their agency: what the workspace shows in its header."""
    return me().as_dict()


@app.get("/agency/tickets")
def inbox(
    status: Annotated[str | None, Query(max_length=32)] = None,
    overdue: Annotated[str | None, Query(pattern="^(true|false)$")] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> dict:
    page = work.inbox(me(), status, overdue == "true", cursor)
    return {"tickets": page.tickets, "next_cursor": page.next_cursor}


@app.get("/agency/tickets/<id>")
def ticket(id: Annotated[str, Path()]) -> dict:
    return work.ticket(me(), id)


@app.post("/agency/tickets/<id>/accept")
def accept(id: Annotated[str, Path()]) -> dict:
    return work.accept(me(), id)


@app.post("/agency/tickets/<id>/reply")
def reply(id: Annotated[str, Path()], reply: Annotated[ReplyIn, Body()]) -> dict:
    return work.reply(me(), id, reply.text)


@app.post("/agency/tickets/<id>/return")
def return_ticket(id: Annotated[str, Path()], returned: Annotated[ReturnIn, Body()]) -> dict:
    return work.return_ticket(me(), id, returned.reason)


@app.post("/agency/tickets/<id>/extend")
def extend(id: Annotated[str, Path()], extension: Annotated[ExtendIn, Body()]) -> dict:
    return work.extend(me(), id, extension.reason, extension.until)


@app.post("/triage/tickets/<id>/assign")
def assign(id: Annotated[str, Path()], assignment: Annotated[AssignIn, Body()]) -> dict:
    return triage.assign(me(), id, assignment.agency, assignment.note)


@app.post("/triage/tickets/<id>/hide")
def hide(id: Annotated[str, Path()], moderation: Annotated[ModerationIn, Body()]) -> dict:
    return triage.hide(me(), id, moderation.reason)


@app.post("/triage/tickets/<id>/unhide")
def unhide(id: Annotated[str, Path()], moderation: Annotated[ModerationIn, Body()]) -> dict:
    return triage.unhide(me(), id, moderation.reason)


@app.exception_handler(NotStaff)
def _not_staff(e: NotStaff) -> Response:
    return http_api.error(HTTPStatus.FORBIDDEN, "not_staff", str(e))


http_api.install(
    app,
    "the request",
    body_params=("reply", "returned", "extension", "assignment", "moderation"),
    statuses={BadCursor: HTTPStatus.BAD_REQUEST, ExtensionRefused: HTTPStatus.CONFLICT},
)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return http_api.refused_before_parsing(event, MAX_REQUEST_BYTES, "the request") or app.resolve(event, context)
