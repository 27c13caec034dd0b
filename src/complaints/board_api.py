"""The public board's routes (GET /board, GET /board/{ticket_no}), declared once: BoardFunction serves them, and
the intake's OpenAPI document (the API's one document) describes them from the same declarations."""

# No `from __future__ import annotations`: the filters' types are made in `install`, from the city, and Powertools
# reads the routes' annotations as objects.
from collections.abc import Callable
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from complaints import http_api
from complaints.api import BoardPageOut, BoardTicketOut
from complaints.city import City
from complaints.domain.desk.board import DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_CHARS
from complaints.domain.lifecycle import ON_BOARD

_errors, _TOO_MANY = http_api.error_answers, http_api.TOO_MANY


def install(
    app: APIGatewayRestResolver, city: City, page: Callable[..., dict[str, Any]], ticket: Callable[[str], dict]
) -> None:
    """Declare the board's routes on `app`, answered by `page` (Board.page) and `ticket` (Board.ticket)."""
    # The filters' values are the city file's: the document lists them, and another one is a 422.
    District = Literal[tuple(d.name for d in city.districts)]  # type: ignore[valid-type]
    Category = Literal[tuple(c.name for c in city.categories)]  # type: ignore[valid-type]
    AgencyId = Literal[tuple(sorted(city.agency_ids()))]  # type: ignore[valid-type]
    BoardStatus = Literal[tuple(sorted(s.value for s in ON_BOARD))]  # type: ignore[valid-type]

    @app.get(
        "/board",
        operation_id="list_board",
        summary="The public board",
        responses={
            200: {
                "description": "Tickets on the board, newest first. One the citizen asked not to show, or the triage"
                " desk hid, has its number, category, district and status only (`public: false`). `next_cursor` reads"
                " on: a page may hold fewer than `limit` items (even none) when a filter or a search is rare, and"
                " still have a cursor; null means the end",
                "content": {"application/json": {"model": BoardPageOut}},
            },
            **_errors(
                {
                    400: "The cursor is not one this board gave out for these filters and this search (`bad_cursor`)",
                    422: "A filter the city does not have, or `limit` or `q` out of bounds (`invalid_request`)",
                    429: _TOO_MANY,
                    503: "The board cannot be read right now (`unavailable`); retry",
                }
            ),
        },
    )
    def list_board(
        district: Annotated[District | None, Query(description="A district of the city")] = None,
        category: Annotated[Category | None, Query(description="A category of the city")] = None,
        agency: Annotated[AgencyId | None, Query(description="The id of the agency holding the ticket")] = None,
        status: Annotated[BoardStatus | None, Query(description="The ticket's state")] = None,
        q: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=MAX_QUERY_CHARS,
                description="Words to find in the question and the answers (every word of two characters or more must"
                " be in the ticket; numbers are not searchable)",
            ),
        ] = None,
        cursor: Annotated[str | None, Query(max_length=512, description="`next_cursor` of the page before")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = DEFAULT_LIMIT,
    ) -> BoardPageOut:
        found = page(
            district=district, category=category, agency=agency, status=status, q=q, cursor=cursor, limit=limit
        )
        return BoardPageOut.model_validate(found)

    @app.get(
        "/board/<ticket_no>",
        operation_id="get_board_ticket",
        summary="One ticket of the public board",
        responses={
            200: {
                "description": "The question, its photo, the answers and the rating's score; a withheld ticket has its"
                " number, category, district and status only (`public: false`)",
                "content": {"application/json": {"model": BoardTicketOut}},
            },
            **_errors(
                {
                    404: "No ticket with this number on the board (`not_found`): unknown, or not dispatched yet",
                    429: _TOO_MANY,
                    503: "The board cannot be read right now (`unavailable`); retry",
                }
            ),
        },
    )
    def get_board_ticket(
        ticket_no: Annotated[str, Path(description="The ticket's number, e.g. 16944")],
    ) -> BoardTicketOut:
        return BoardTicketOut.model_validate(ticket(ticket_no))


def openapi_fragment(city: City, title: str, version: str) -> dict[str, Any]:
    """The board's part of the API's OpenAPI document: its paths and the schemas they name."""
    import json

    app = APIGatewayRestResolver(enable_validation=True)
    install(app, city, page=lambda **_: {}, ticket=lambda _: {})
    return json.loads(app.get_openapi_json_schema(title=title, version=version))
