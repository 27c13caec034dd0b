"""Who a staff request comes from: the agency in its Cognito ID token's `cognito:groups` claim.

API Gateway's Cognito authorizer has verified the token before a function runs (the local gateway does the same
checks, `complaints_tools/local/authorizer.py`) and passes its claims as strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from complaints.city import Agency, City

# The group of the desk's administrators; every other group is an agency id of the city file.
ADMIN_GROUP = "admin"


def groups_in_claim(value: Any) -> list[str]:
    """`cognito:groups` as a function receives it: a list, or a string as API Gateway writes one ("a,b" or
    "[a b]")."""
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value or "").strip().removeprefix("[").removesuffix("]")
    return [g for g in text.replace(",", " ").split() if g]


class NotStaff(Exception):
    """A valid token of someone in no agency's group (or in several): signed in, but not allowed in."""


@dataclass(frozen=True)
class StaffMember:
    user_id: str  # the pool's `sub`: what a ticket's history records, never the e-mail address
    email: str
    agency: Agency | None  # None for an administrator
    admin: bool

    def as_dict(self) -> dict[str, Any]:
        agency = self.agency and {"id": self.agency.id, "name": self.agency.name, "kind": self.agency.kind}
        return {"user_id": self.user_id, "email": self.email, "agency": agency, "admin": self.admin}


def staff_member(claims: dict[str, Any] | None, city: City) -> StaffMember:
    """Who the verified claims belong to. One agency per person (`complaints staff add` keeps it so); a group the
    city file no longer has counts for nothing."""
    claims = claims or {}
    groups = groups_in_claim(claims.get("cognito:groups"))
    agencies = [city.agency(g) for g in groups if g in city.agency_ids()]
    admin = ADMIN_GROUP in groups
    if len(agencies) > 1:
        raise NotStaff("this account is in several agencies' groups; an administrator must keep one")
    if not agencies and not admin:
        raise NotStaff("this account belongs to no agency of the city")
    return StaffMember(
        user_id=str(claims.get("sub", "")),
        email=str(claims.get("email", "")),
        agency=agencies[0] if agencies else None,
        admin=admin,
    )
