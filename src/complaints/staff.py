"""Who a staff request comes from: the agency in its Cognito ID token's `cognito:groups` claim.

API Gateway's Cognito authorizer has verified the token before a function runs (the local gateway does the same
checks, `complaints_tools/local/authorizer.py`) and passes its claims as strings.
"""

from __future__ import annotations

from typing import Any

# The group of the desk's administrators; every other group is an agency id of the city file.
ADMIN_GROUP = "admin"


def groups_in_claim(value: Any) -> list[str]:
    """`cognito:groups` as a function receives it: a list, or a string as API Gateway writes one ("a,b" or
    "[a b]")."""
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value or "").strip().removeprefix("[").removesuffix("]")
    return [g for g in text.replace(",", " ").split() if g]
