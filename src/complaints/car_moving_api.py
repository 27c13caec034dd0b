"""Self-service car moving over HTTP (自助移车): phone verification, requests and their follow-up, and the owner's
link. CarMovingFunction serves these routes; the work is the CarMoving use case's
(`complaints.domain.desk.car_moving`), the errors' shape and statuses `complaints.http_api`'s.

Statuses: a body that is not JSON, or a field that breaks its rule (a plate, a phone, a location), is a 400;
422 is kept for a wrong or expired code, so that a client can tell "ask for a new code" from "fix the form".
"""

# No `from __future__ import annotations`: Powertools reads the routes' annotations as objects.
from http import HTTPStatus
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path
from pydantic import BaseModel, ConfigDict, Field

from complaints import http_api
from complaints.domain import errors
from complaints.domain.desk.car_moving import CarMoving, Requester

CHANNEL = "app"
_TOO_MANY = http_api.TOO_MANY
_BEARER = "bearer "


class CarMovingErrorBody(BaseModel):
    code: str
    message: str
    possible_at: str | None = Field(
        default=None, description="Only with 409 `not_yet`: when the reminder or hand-over becomes possible"
    )


class CarMovingErrorOut(BaseModel):
    error: CarMovingErrorBody


def _errors(descriptions: dict[int, str]) -> dict[int, dict]:
    return {
        status: {"description": text, "content": {"application/json": {"model": CarMovingErrorOut}}}
        for status, text in descriptions.items()
    }


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: str = Field(max_length=32, strict=True, description="A mainland mobile number, such as 138 1234 5678")


class VerifyConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: str = Field(max_length=32, strict=True, description="The phone the code was sent to")
    code: str = Field(max_length=16, strict=True, description="The 6-digit code of the SMS")


class CodeSent(BaseModel):
    status: Literal["code_sent"]


class Verified(BaseModel):
    token: str = Field(description="Send it as Authorization: Bearer <token> with the car-moving requests")
    expires_at: str = Field(description="The token is refused after this time (UTC, ISO 8601)")


class CarMovingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plate: str = Field(max_length=20, strict=True, description="The plate of the car in the way, such as 浙C·12345")
    location: str = Field(max_length=200, strict=True, description="Where the car is, in 1 to 100 characters")
    photo: str | None = Field(
        default=None, strict=True, description="A photo of the car, base64 (the same rules as a complaint's; not kept)"
    )


class CarMovingOut(BaseModel):
    id: str
    plate: str
    location: str
    status: Literal["notified", "moved", "police"] = Field(
        description="notified (the owner had an SMS and a call), moved (the owner confirmed), police (handed to"
        " the traffic police as a ticket)"
    )
    created_at: str
    can_remind_at: str | None = Field(description="While notified: from then on, remind or hand to the police")
    reminded_at: str | None
    moved_at: str | None
    ticket_no: int | None = Field(description="Once handed to the police: the ticket's number")
    receipt: str | None = Field(
        default=None, description="Only in the answer to POST …/police: the ticket's receipt (X-Receipt)"
    )


class OwnerPageOut(BaseModel):
    plate: str
    moved: bool = Field(description="Whether the owner confirmed the car is moved")
    text: str = Field(description="What the page says to the owner (the city's wording)")


def install(app: APIGatewayRestResolver, moving: CarMoving) -> None:
    """Declare the car-moving routes on `app`, answered by `moving`."""

    def requester(authorization: str | None) -> Requester:
        # The token is a header, never a query parameter: URLs end up in histories and logs.
        header = authorization or ""
        token = header[len(_BEARER) :].strip() if header[: len(_BEARER)].lower() == _BEARER else ""
        return moving.requester(token)

    def created(body: BaseModel, status: HTTPStatus) -> Response:
        return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)

    @app.post(
        "/verify",
        operation_id="start_verification",
        summary="Send a verification code to a phone",
        responses={
            202: {
                "description": "A 6-digit code is on its way by SMS; valid for 10 minutes, 5 tries",
                "content": {"application/json": {"model": CodeSent}},
            },
            **_errors(
                {
                    400: "Not JSON (`invalid_json`), or not a mainland mobile number (`invalid_complaint`,"
                    " `invalid_request`)",
                    429: "A code went to this phone less than a minute ago, or 5 today (`limit_reached`; see"
                    " Retry-After). " + _TOO_MANY,
                }
            ),
        },
    )
    def start_verification(body: Annotated[VerifyIn, Body()]) -> Response[CodeSent]:
        moving.start_verification(body.phone, CHANNEL)
        return created(CodeSent(status="code_sent"), HTTPStatus.ACCEPTED)

    @app.post(
        "/verify/confirm",
        operation_id="confirm_verification",
        summary="Trade the SMS code for a bearer token",
        responses={
            200: {"description": "Verified", "content": {"application/json": {"model": Verified}}},
            **_errors(
                {
                    400: "Not JSON, or a field missing or too long (`invalid_request`)",
                    422: "The code is wrong, expired, used or tried too often (`code_rejected`): ask for a new one",
                    429: _TOO_MANY,
                }
            ),
        },
    )
    def confirm_verification(body: Annotated[VerifyConfirmIn, Body()]) -> Verified:
        found = moving.confirm_verification(body.phone, body.code)
        return Verified(token=found.token, expires_at=found.expires_at)

    @app.post(
        "/car-moving",
        operation_id="request_car_moving",
        summary="Ask the owner of the car in the way to move it",
        responses={
            201: {
                "description": "The owner is being notified by SMS and a voice call; neither sees the other's number",
                "content": {"application/json": {"model": CarMovingOut}},
            },
            **_errors(
                {
                    400: "Not JSON, or a plate, location or field that breaks its rule (`invalid_plate`,"
                    " `invalid_complaint`, `invalid_request`)",
                    401: "No bearer token, or an unknown or expired one (`not_verified`)",
                    403: "The requester or the plate is blocked (`blocked`)",
                    404: "The plate is not in the registry (`plate_not_registered`)",
                    413: "The photo is over 4 MB (`photo_too_large`)",
                    415: "The photo is not an image we take (`unsupported_photo`)",
                    429: "5 requests this month, or the plate's owner was notified less than 10 minutes ago"
                    " (`limit_reached`; see Retry-After)",
                }
            ),
        },
    )
    def request_car_moving(
        body: Annotated[CarMovingIn, Body()],
        authorization: Annotated[str | None, Header(alias="Authorization", description="Bearer <token>")] = None,
    ) -> Response[CarMovingOut]:
        view = moving.request(requester(authorization), body.plate, body.location, body.photo, CHANNEL)
        return created(CarMovingOut.model_validate(view), HTTPStatus.CREATED)

    _own = {
        401: "No bearer token, or an unknown or expired one (`not_verified`)",
        404: "No request of this requester with this id (`not_found`)",
        429: _TOO_MANY,
    }

    @app.get(
        "/car-moving/<id>",
        operation_id="get_car_moving",
        summary="Follow a car-moving request",
        responses={
            200: {"description": "The request as its requester sees it", "content": _json(CarMovingOut)},
            **_errors(_own),
        },
    )
    def get_car_moving(
        id: Annotated[str, Path()],
        authorization: Annotated[str | None, Header(alias="Authorization", description="Bearer <token>")] = None,
    ) -> CarMovingOut:
        return CarMovingOut.model_validate(moving.view(requester(authorization), id))

    @app.post(
        "/car-moving/<id>/remind",
        operation_id="remind_owner",
        summary="Notify the owner once more (催单)",
        responses={
            200: {"description": "The owner is notified again", "content": _json(CarMovingOut)},
            **_errors(
                {
                    **_own,
                    409: "Too early (`not_yet`, with `possible_at`), reminded already, or no longer notified",
                }
            ),
        },
    )
    def remind_owner(
        id: Annotated[str, Path()],
        authorization: Annotated[str | None, Header(alias="Authorization", description="Bearer <token>")] = None,
    ) -> CarMovingOut:
        return CarMovingOut.model_validate(moving.remind(requester(authorization), id))

    @app.post(
        "/car-moving/<id>/police",
        operation_id="hand_to_police",
        summary="Hand the request to the traffic police (交警大队) as a ticket",
        responses={
            200: {
                "description": "A ticket for the traffic police, not public, with the requester as its contact",
                "content": _json(CarMovingOut),
            },
            **_errors(
                {
                    **_own,
                    409: "Too early (`not_yet`, with `possible_at`), or the request is no longer notified",
                    503: "The ticket could not be stored (`unavailable`); retry",
                }
            ),
        },
    )
    def hand_to_police(
        id: Annotated[str, Path()],
        authorization: Annotated[str | None, Header(alias="Authorization", description="Bearer <token>")] = None,
    ) -> CarMovingOut:
        return CarMovingOut.model_validate(moving.to_police(requester(authorization), id))

    @app.get(
        "/car-moving/owner/<code>",
        operation_id="owner_page",
        summary="The owner's link (from the owner's SMS)",
        responses={
            200: {"description": "The plate and whether it is confirmed moved", "content": _json(OwnerPageOut)},
            **_errors({404: "Not a valid link (`not_found`)", 429: _TOO_MANY}),
        },
    )
    def owner_page(code: Annotated[str, Path()]) -> OwnerPageOut:
        return OwnerPageOut.model_validate(moving.owner_page(code))

    @app.post(
        "/car-moving/owner/<code>/moved",
        operation_id="owner_confirms",
        summary="The owner confirms the car is moved",
        responses={
            200: {"description": "Confirmed (again: the same answer)", "content": _json(OwnerPageOut)},
            **_errors({404: "Not a valid link (`not_found`)", 429: _TOO_MANY}),
        },
    )
    def owner_confirms(code: Annotated[str, Path()]) -> OwnerPageOut:
        return OwnerPageOut.model_validate(moving.owner_confirms(code))


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"model": model}}


def install_errors(app: APIGatewayRestResolver) -> None:
    """The car-moving function's errors: the shared ones, with a field that breaks its rule a 400."""
    http_api.install(
        app,
        "the request",
        body_params=("body",),
        statuses={errors.InvalidComplaint: HTTPStatus.BAD_REQUEST},
        invalid_request=HTTPStatus.BAD_REQUEST,
    )


def openapi_fragment(moving: CarMoving, title: str, version: str) -> dict[str, Any]:
    """The routes' OpenAPI paths and schemas, for the API's one document (as board_api.openapi_fragment)."""
    import json

    app = APIGatewayRestResolver(enable_validation=True)
    install(app, moving)
    return json.loads(app.get_openapi_json_schema(title=title, version=version))
