"""Intake: the public API. Accepts complaints, shows a ticket to the citizen holding its receipt.

Thin by design: validation comes from the pydantic models in `complaints.api`, work from the intake use case, and
every error is turned into `{"error": {"code", "message"}}` with one status code in `_ERRORS` below.
"""

from __future__ import annotations

import json
from functools import partial
from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from complaints import __version__, board_api, car_moving_api, http_api, logs, wiring
from complaints.api import IDEMPOTENCY_KEY_PATTERN, ComplaintCreated, ComplaintIn, RatingIn, TicketOut
from complaints.domain import errors
from complaints.domain.desk.intake import NewComplaint, PhotoUpload

logger = logs.logger()
copy_config_to_registered_loggers(source_logger=logger, include={"complaints"})
app = APIGatewayRestResolver(
    enable_validation=True, serializer=partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
)
intake = wiring.intake()
citizen = wiring.citizen(intake)
MAX_REQUEST_BYTES = wiring.max_request_bytes()

_error_answers = http_api.error_answers
_TOO_MANY = http_api.TOO_MANY


@app.post(
    "/complaints",
    operation_id="post_complaint",
    summary="Submit a complaint",
    responses={
        201: {
            "description": "Ticket created. A retry with the same Idempotency-Key and body gets this same answer",
            "content": {"application/json": {"model": ComplaintCreated}},
        },
        **_error_answers(
            {
                400: "The body is empty (`empty_body`), not JSON (`invalid_json`) or not UTF-8 (`invalid_encoding`)",
                409: "A request with this Idempotency-Key is still being handled (`request_in_progress`); retry",
                413: "The photo is over 4 MB or `photo_upload.size` over 15 MB (`photo_too_large`), or the body is"
                " too large to be read (`body_too_large`)",
                415: "The body is not application/json (`unsupported_content_type`), or the photo is not a JPEG, PNG,"
                " WebP or HEIC image, not base64, not the declared type, damaged, a bomb or an animation"
                " (`unsupported_photo`)",
                422: "A rule broken; the message names the field (`invalid_request`); a `district` the city does not"
                " have (`invalid_complaint`). Or the Idempotency-Key was used with another body"
                " (`idempotency_key_reused`)",
                429: _TOO_MANY,
                503: "Storing failed and nothing was kept (`unavailable`); retry, with the same Idempotency-Key",
            }
        ),
    },
)
def post_complaint(
    complaint: Annotated[ComplaintIn, Body()],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="A fresh UUID per complaint, the same on every retry of it: a retry gets the same ticket",
        ),
    ] = None,
) -> Response[ComplaintCreated]:
    created = submit_once.run(idempotency_key, complaint) if idempotency_key else _submit(complaint)
    return Response(status_code=HTTPStatus.CREATED, content_type=content_types.APPLICATION_JSON, body=created)


def _submit(complaint: ComplaintIn) -> ComplaintCreated:
    receipt = intake.submit(
        NewComplaint(
            text=complaint.text,
            channel=complaint.channel,
            photo_base64=complaint.photo,
            photo_upload=PhotoUpload(**complaint.photo_upload.model_dump()) if complaint.photo_upload else None,
            location=complaint.location,
            contact=complaint.contact.model_dump(exclude_none=True) if complaint.contact else None,
            public=complaint.public,
            district=complaint.district,
        )
    )
    return ComplaintCreated.model_validate(receipt, from_attributes=True)


submit_once = wiring.once_per_key("intake.post_complaint", _submit, ComplaintCreated)


@app.get(
    "/complaints/<id>",
    operation_id="get_complaint",
    summary="Follow a complaint",
    responses={
        200: {
            "description": "The ticket as its citizen sees it",
            "content": {"application/json": {"model": TicketOut}},
        },
        **_error_answers(
            {
                400: "The receipt was sent in the URL (`receipt_in_url`); send it in X-Receipt",
                404: "No ticket with this id and receipt (`not_found`): an unknown id and a wrong or missing receipt"
                " look the same",
                429: _TOO_MANY,
                503: "The ticket cannot be read right now (`unavailable`); retry",
            }
        ),
    },
)
def get_complaint(
    id: Annotated[str, Path()],
    x_receipt: Annotated[
        str | None, Header(alias="X-Receipt", description="The receipt from POST /complaints; never in the URL")
    ] = None,
) -> TicketOut:
    _no_receipt_in_url()
    return TicketOut.model_validate(intake.citizen_view(id, x_receipt))


def _no_receipt_in_url() -> None:
    if "receipt" in (app.current_event.query_string_parameters or {}):
        # A URL ends up in browser history, Referer headers and access logs: the receipt would leak with it.
        raise errors.ReceiptInUrl("send the receipt in the X-Receipt header, not in the URL")


@app.post(
    "/complaints/<id>/rating",
    operation_id="rate_answer",
    summary="Rate the answer",
    responses={
        200: {
            "description": "Rated: the ticket is `closed`, or `reopened` to the agency (`triage` past the city's limit"
            " of reopenings), as the ticket now is",
            "content": {"application/json": {"model": TicketOut}},
        },
        **_error_answers(
            {
                400: "The body is empty (`empty_body`) or not JSON (`invalid_json`); or the receipt was sent in the URL"
                " (`receipt_in_url`)",
                404: "No ticket with this id and receipt (`not_found`)",
                409: "The ticket is not `answered`, or its answer was rated already (`move_not_allowed`; `state` is"
                " where the ticket is now)",
                415: "The body is not application/json (`unsupported_content_type`)",
                422: "A rule broken; the message names the field (`invalid_request`)",
                429: _TOO_MANY,
                503: "The rating could not be stored (`unavailable`); retry",
            }
        ),
    },
)
def rate_answer(
    id: Annotated[str, Path()],
    rating: Annotated[RatingIn, Body()],
    x_receipt: Annotated[
        str | None, Header(alias="X-Receipt", description="The receipt from POST /complaints; never in the URL")
    ] = None,
) -> TicketOut:
    _no_receipt_in_url()
    rated = citizen.rate(id, x_receipt, rating.score, rating.resolved, rating.comment)
    return TicketOut.model_validate(rated)


@app.get("/openapi.json", include_in_schema=False)
def openapi() -> dict:
    return openapi_document()


_API_DESCRIPTION = (
    'Complaints to the city, and their tickets. Every error is `{"error": {"code", "message"}}` (ErrorOut)'
    " with the status each operation lists; a refused request stores nothing. A method a route does not take is a"
    " 405 `method_not_allowed` with an `Allow` header naming the ones it does; an unknown route is a 404 `not_found`."
)


def openapi_document() -> dict:
    """The API's OpenAPI document: Powertools writes it from the routes and models, this adds what it cannot say.

    The one source of both GET /openapi.json and docs/openapi.json.
    """
    title = "Rui'an complaint desk"
    doc = json.loads(app.get_openapi_json_schema(title=title, version=__version__))
    doc["info"]["description"] = _API_DESCRIPTION
    # The public board is served by BoardFunction; it is public API too, so it is in this one document.
    board = board_api.openapi_fragment(intake.city, title, __version__)
    doc["paths"] |= board["paths"]
    doc["components"]["schemas"] |= board["components"]["schemas"]
    # Car moving (自助移车) is CarMovingFunction's, and public API too; the fragment needs no use case to be written.
    moving = car_moving_api.openapi_fragment(None, title, __version__)  # type: ignore[arg-type]
    doc["paths"] |= moving["paths"]
    doc["components"]["schemas"] |= moving["components"]["schemas"]
    for operation in (op for path in doc["paths"].values() for op in path.values()):
        # Powertools gives every route its own 422 shape; a route whose requests can fail validation declares
        # ErrorOut instead (see _invalid_request), so one still naming Powertools' shape never answers 422.
        if "HTTPValidationError" in json.dumps(operation["responses"].get("422")):
            del operation["responses"]["422"]
        for parameter in operation.get("parameters", []):
            # A header is a string or absent, never null (Powertools writes an optional one as string-or-null).
            branches = parameter["schema"].pop("anyOf", None)
            if branches:
                parameter["schema"].update(next(b for b in branches if b.get("type") != "null"))
    # The districts a citizen may pick are the city file's: the document names them (another one is a 422).
    district = doc["components"]["schemas"]["ComplaintIn"]["properties"]["district"]
    for branch in district.get("anyOf", [district]):
        if branch.get("type") == "string":
            branch["enum"] = [d.name for d in intake.city.districts]
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        doc["components"]["schemas"].pop(unused, None)
    # OpenAPI links: how the answer to a POST opens its ticket, so that a client (or a stateful fuzzer) can follow.
    doc["paths"]["/complaints"]["post"]["responses"]["201"]["links"] = {
        "GetComplaint": {
            "operationId": "get_complaint",
            "parameters": {"path.id": "$response.body#/id", "header.X-Receipt": "$response.body#/receipt"},
            "description": "The ticket just created, with its receipt in X-Receipt",
        },
        "RateAnswer": {
            "operationId": "rate_answer",
            "parameters": {"path.id": "$response.body#/id", "header.X-Receipt": "$response.body#/receipt"},
            "description": "Rate the ticket's answer, once it is answered (409 before)",
        },
    }
    return doc


http_api.install(app, "the complaint", body_params=("complaint", "rating"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    submit_once.register_context(context)
    return http_api.refused_before_parsing(event, MAX_REQUEST_BYTES, "the complaint") or app.resolve(event, context)
