"""What every API function answers the same way: the error shape `{"error": {"code", "message"}}`, the statuses of
the desk's errors, refused bodies, unknown routes and methods. The intake (public) and agency (staff) functions
install these on their resolvers."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError

from complaints.domain import errors

# Before any route: WAF's rate rule per client address, API Gateway's stage throttle for all callers together.
TOO_MANY = "Too many requests from this address (`rate_limited`), or to the whole API; retry in a while"


def error_answers(descriptions: dict[int, str]) -> dict[int, dict]:
    """OpenAPI responses in the error shape (ErrorOut), one per status code."""
    from complaints.api import ErrorOut

    return {
        status: {"description": text, "content": {"application/json": {"model": ErrorOut}}}
        for status, text in descriptions.items()
    }


# One status per error of the desk, for every function.
STATUSES: dict[type[errors.DeskError], HTTPStatus] = {
    errors.InvalidComplaint: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.PhotoTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    errors.PhotoRejected: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    errors.TicketNotFound: HTTPStatus.NOT_FOUND,
    errors.ReceiptInUrl: HTTPStatus.BAD_REQUEST,
    errors.TemporarilyUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.IdempotencyKeyReused: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.RequestInProgress: HTTPStatus.CONFLICT,
    errors.MoveNotAllowed: HTTPStatus.CONFLICT,
    errors.CodeRejected: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.NotVerified: HTTPStatus.UNAUTHORIZED,
    errors.Blocked: HTTPStatus.FORBIDDEN,
    errors.LimitReached: HTTPStatus.TOO_MANY_REQUESTS,
    errors.PlateNotRegistered: HTTPStatus.NOT_FOUND,
    errors.CarMovingNotFound: HTTPStatus.NOT_FOUND,
    errors.NotYet: HTTPStatus.CONFLICT,
}


def error(status: HTTPStatus, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"error": {"code": code, "message": message, **extra}}, ensure_ascii=False),
        headers=headers,
    )


def install(
    app: APIGatewayRestResolver,
    what: str,
    body_params: tuple[str, ...] = (),
    statuses: dict[type, HTTPStatus] | None = None,
    invalid_request: HTTPStatus = HTTPStatus.UNPROCESSABLE_ENTITY,
) -> None:
    """Answer every error `app` can meet in the API's shape. `what`: what the body holds, for messages ("the
    complaint"); `body_params`: the routes' body parameter names, left out of a field's location; `statuses`:
    this function's own statuses, before the shared ones; `invalid_request`: the status of a body field that
    breaks its model's rule."""
    table = {**(statuses or {}), **{k: v for k, v in STATUSES.items() if k not in (statuses or {})}}

    @app.exception_handler(errors.DeskError)
    def _desk_error(e: errors.DeskError) -> Response:
        status = next((s for kind, s in table.items() if isinstance(e, kind)), HTTPStatus.BAD_REQUEST)
        if isinstance(e, errors.MoveNotAllowed):
            # The state the ticket is in now, for a client to show or to reload on.
            return error(status, e.code, e.message, state=e.state)
        if isinstance(e, errors.LimitReached):
            return error(status, e.code, e.message, headers={"Retry-After": str(e.retry_after_s)})
        if isinstance(e, errors.NotYet):
            return error(status, e.code, e.message, possible_at=e.possible_at)
        if isinstance(e, errors.NotVerified):
            return error(status, e.code, e.message, headers={"WWW-Authenticate": "Bearer"})
        return error(status, e.code, e.message)

    _install_body_errors(app, what, body_params, invalid_request)

    @app.not_found
    def _not_found(e: NotFoundError) -> Response:
        # Every method reaches the function (template.yaml's Fallback event), so it tells an unknown route from a
        # method its route does not take.
        allowed = ", ".join(_methods_at(app, app.current_event.path))
        if allowed:
            message = f"this route takes {allowed} only"
            return error(HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed", message, headers={"Allow": allowed})
        return error(HTTPStatus.NOT_FOUND, "not_found", "no such route")


def _install_body_errors(
    app: APIGatewayRestResolver, what: str, body_params: tuple[str, ...], invalid_request: HTTPStatus
) -> None:
    @app.exception_handler(RequestValidationError)
    def _invalid_request(e: RequestValidationError) -> Response:
        errs = e.errors()
        if any(err.get("type") == "json_invalid" for err in errs):
            return error(HTTPStatus.BAD_REQUEST, "invalid_json", "the request body is not valid JSON")
        if any(err.get("type") == "missing" and tuple(err.get("loc", ())) == ("body",) for err in errs):
            # Powertools reads an empty body and a JSON null alike, as no body at all.
            if not app.current_event.body:
                message = f"the request body is empty; send {what} as a JSON object"
                return error(HTTPStatus.BAD_REQUEST, "empty_body", message)
            return error(invalid_request, "invalid_request", "body: must be a JSON object, not null")
        # Name the field and the rule, never echo the input: it may hold a phone number.
        parts = []
        for err in errs[:5]:
            loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", *body_params))
            parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
        return error(invalid_request, "invalid_request", "; ".join(parts))

    @app.exception_handler(UnicodeDecodeError)
    def _not_utf8(e: UnicodeDecodeError) -> Response:
        return error(HTTPStatus.BAD_REQUEST, "invalid_encoding", "the request body must be UTF-8")

    @app.exception_handler(ValueError)
    def _number_too_long(e: ValueError) -> Response:
        # json.loads refuses integers of more than 4,300 digits with a plain ValueError (CVE-2020-10735's limit).
        if "digits" not in str(e):
            raise e
        return error(HTTPStatus.BAD_REQUEST, "invalid_json", "a number in the request body is too long")

    @app.exception_handler(RecursionError)
    def _too_deep(e: RecursionError) -> Response:
        return error(HTTPStatus.BAD_REQUEST, "invalid_json", "the request body is nested too deeply")

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported_content_type(e: RequestUnsupportedContentType) -> Response:
        return error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_content_type", f"send {what} as application/json")


def _methods_at(app: APIGatewayRestResolver, path: str) -> list[str]:
    # Powertools keeps its routes unexposed; these two lists are where its own resolver looks them up.
    routes = app._static_routes + app._dynamic_routes
    return sorted({route.method for route in routes if route.rule.match(path)})


def refused_before_parsing(event: dict, max_bytes: int, what: str) -> dict | None:
    """A body over the cap costs nothing but its transfer; a body that is not JSON is not parsed as a form either."""
    if len(event.get("body") or "") > max_bytes:
        status, code, message = HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body_too_large", "the request body is too large"
    elif event.get("body") and not _is_json(event.get("headers") or {}):
        status, code, message = (
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_type",
            f"send {what} as application/json",
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
