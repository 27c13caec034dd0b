"""Errors the desk raises. The API maps each to one HTTP status in exactly one place (the intake handler)."""


class DeskError(Exception):
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidComplaint(DeskError):
    """The citizen's submission breaks a rule (422)."""

    code = "invalid_complaint"


class PhotoTooLarge(DeskError):
    code = "photo_too_large"


class PhotoRejected(DeskError):
    """Not an image we accept: not decodable, or of a type we do not take (415)."""

    code = "unsupported_photo"


class TicketNotFound(DeskError):
    """No such ticket, or the receipt does not match: the two are indistinguishable on purpose (404)."""

    code = "not_found"


class ReceiptInUrl(DeskError):
    """The receipt was sent in the query string, where history, Referer headers and logs keep it (400)."""

    code = "receipt_in_url"


class TemporarilyUnavailable(DeskError):
    """A downstream service failed; nothing was kept, and the citizen may retry (503)."""

    code = "unavailable"


class RoutingInProgress(Exception):
    """Another route worker holds the ticket; the message is retried later (not a DeskError: no citizen sees it)."""


class IdempotencyKeyReused(DeskError):
    """The Idempotency-Key was used before with another body (422): a client bug, never a retry."""

    code = "idempotency_key_reused"


class RequestInProgress(DeskError):
    """A request with this Idempotency-Key is being handled right now (409); retry in a moment."""

    code = "request_in_progress"


class MoveNotAllowed(DeskError):
    """A move the lifecycle table does not allow from the ticket's current state, or not to this actor, or one
    another actor made first (409): the ticket has moved on; `state` says where it is now (None: no such ticket)."""

    code = "move_not_allowed"

    def __init__(self, message: str, move: str, state: str | None) -> None:
        super().__init__(message)
        self.move = move
        self.state = state


class UndeliverableContact(DeskError):
    """The contact cannot be written to (not a phone number SNS takes, an address SES refuses): retrying won't help."""

    code = "undeliverable_contact"


# ---------------------------------------------------------------- car moving (自助移车)
class InvalidPlate(InvalidComplaint):
    """Not a licence plate (422); the message names the rule, never echoes the input."""

    code = "invalid_plate"


class CodeRejected(DeskError):
    """A verification code that is wrong, expired, used, or tried too often (422): the four look alike on purpose."""

    code = "code_rejected"


class NotVerified(DeskError):
    """No bearer token, or one that is unknown or expired (401)."""

    code = "not_verified"


class Blocked(DeskError):
    """The requester or the plate is on the city's block list (403)."""

    code = "blocked"


class LimitReached(DeskError):
    """A rate or quota limit (429); `retry_after_s`: when the same request may succeed."""

    code = "limit_reached"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, int(retry_after_s))


class PlateNotRegistered(DeskError):
    """The registry knows no owner for this plate (404); nothing about any owner is said."""

    code = "plate_not_registered"


class CarMovingNotFound(DeskError):
    """No such car-moving request of this requester: another's and an unknown id look the same (404)."""

    code = "not_found"


class NotYet(DeskError):
    """A reminder or a hand-over to the police before it is allowed, or a second reminder (409); `possible_at`: when
    it becomes possible (None: never again)."""

    code = "not_yet"

    def __init__(self, message: str, possible_at: str | None) -> None:
        super().__init__(message)
        self.possible_at = possible_at
