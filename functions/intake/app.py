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
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from complaints import __version__, logs, wiring
from complaints.api import IDEMPOTENCY_KEY_PATTERN, ComplaintCreated, ComplaintIn, ErrorOut, TicketOut
from complaints.domain import errors
from complaints.domain.desk.intake import NewComplaint, PhotoUpload

logger = logs.logger()
copy_config_to_registered_loggers(source_logger=logger, include={"complaints"})
app = APIGatewayRestResolver(
    enable_validation=True, serializer=partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
)
intake = wiring.intake()
MAX_REQUEST_BYTES = wiring.max_request_bytes()

_ERRORS = {
    errors.InvalidComplaint: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.PhotoTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    errors.PhotoRejected: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    errors.TicketNotFound: HTTPStatus.NOT_FOUND,
    errors.ReceiptInUrl: HTTPStatus.BAD_REQUEST,
    errors.TemporarilyUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.IdempotencyKeyReused: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.RequestInProgress: HTTPStatus.CONFLICT,
}


_JSON_ERROR = {"application/json": {"model": ErrorOut}}


def _error(status: HTTPStatus, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False),
        headers=headers,
    )


def _error_answers(descriptions: dict[int, str]) -> dict[int, dict]:
    """OpenAPI responses in the error shape, one per status code."""
    return {status: {"description": text, "content": _JSON_ERROR} for status, text in descriptions.items()}


# Before any route: WAF's rate rule per client address, API Gateway's stage throttle for all callers together.
_TOO_MANY = "Too many requests from this address (`rate_limited`), or to the whole API; retry in a while"


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
                422: "A rule broken; the message names the field (`invalid_request`). Or the Idempotency-Key was used"
                " with another body (`idempotency_key_reused`)",
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
    if "receipt" in (app.current_event.query_string_parameters or {}):
        # A URL ends up in browser history, Referer headers and access logs: the receipt would leak with it.
        raise errors.ReceiptInUrl("send the receipt in the X-Receipt header, not in the URL")
    return TicketOut.model_validate(intake.citizen_view(id, x_receipt))


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
    doc = json.loads(app.get_openapi_json_schema(title="Rui'an complaint desk", version=__version__))
    doc["info"]["description"] = _API_DESCRIPTION
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
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        doc["components"]["schemas"].pop(unused, None)
    # OpenAPI links: how the answer to a POST opens its ticket, so that a client (or a stateful fuzzer) can follow.
    doc["paths"]["/complaints"]["post"]["responses"]["201"]["links"] = {
        "GetComplaint": {
            "operationId": "get_complaint",
            "parameters": {"path.id": "$response.body#/id", "header.X-Receipt": "$response.body#/receipt"},
            "description": "The ticket just created, with its receipt in X-Receipt",
        }
    }
    return doc


@app.exception_handler(errors.DeskError)
def _desk_error(e: errors.DeskError) -> Response:
    status = _ERRORS.get(type(e), HTTPStatus.BAD_REQUEST)
    return _error(status, e.code, e.message)


@app.exception_handler(RequestValidationError)
def _invalid_request(e: RequestValidationError) -> Response:
    errs = e.errors()
    if any(err.get("type") == "json_invalid" for err in errs):
        return _error(HTTPStatus.BAD_REQUEST, "invalid_json", "the request body is not valid JSON")
    if any(err.get("type") == "missing" and tuple(err.get("loc", ())) == ("body",) for err in errs):
        # Powertools reads an empty body and a JSON null alike, as no body at all.
        if not app.current_event.body:
            message = "the request body is empty; send the complaint as a JSON object"
            return _error(HTTPStatus.BAD_REQUEST, "empty_body", message)
        return _error(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_request", "body: must be a JSON object, not null")
    # Name the field and the rule, never echo the input: it may hold a phone number.
    parts = []
    for err in errs[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "complaint"))
        parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_request", "; ".join(parts))


@app.exception_handler(UnicodeDecodeError)
def _not_utf8(e: UnicodeDecodeError) -> Response:
    return _error(HTTPStatus.BAD_REQUEST, "invalid_encoding", "the request body must be UTF-8")


@app.exception_handler(ValueError)
def _number_too_long(e: ValueError) -> Response:
    # json.loads refuses integers of more than 4,300 digits with a plain ValueError (CVE-2020-10735's limit).
    if "digits" not in str(e):
        raise e
    return _error(HTTPStatus.BAD_REQUEST, "invalid_json", "a number in the request body is too long")


@app.exception_handler(RecursionError)
def _too_deep(e: RecursionError) -> Response:
    return _error(HTTPStatus.BAD_REQUEST, "invalid_json", "the request body is nested too deeply")


@app.exception_handler(RequestUnsupportedContentType)
def _unsupported_content_type(e: RequestUnsupportedContentType) -> Response:
    return _error(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_content_type", "send the complaint as application/json"
    )


@app.not_found
def _not_found(e: NotFoundError) -> Response:
    # Every method reaches this function (template.yaml's Fallback event), so it tells an unknown route from a
    # method its route does not take.
    allowed = ", ".join(_methods_at(app.current_event.path))
    if allowed:
        message = f"this route takes {allowed} only"
        return _error(HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed", message, headers={"Allow": allowed})
    return _error(HTTPStatus.NOT_FOUND, "not_found", "no such route")


def _methods_at(path: str) -> list[str]:
    # Powertools keeps its routes unexposed; these two lists are where its own resolver looks them up.
    routes = app._static_routes + app._dynamic_routes
    return sorted({route.method for route in routes if route.rule.match(path)})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    submit_once.register_context(context)
    return _refused_before_parsing(event) or app.resolve(event, context)


def _refused_before_parsing(event: dict) -> dict | None:
    """A body over the cap costs nothing but its transfer; a body that is not JSON is not parsed as a form either."""
    if len(event.get("body") or "") > MAX_REQUEST_BYTES:
        status, code, message = HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body_too_large", "the request body is too large"
    elif event.get("body") and not _is_json(event.get("headers") or {}):
        status, code, message = (
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_type",
            "send the complaint as application/json",
        )
    else:
        return None
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps({"error": {"code": code, "message": message}}),
        "isBase64Encoded": False,
    }


def _is_json(headers: dict) -> bool:
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return content_type.split(";", 1)[0].strip().lower() in ("application/json", "")
