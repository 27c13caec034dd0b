"""What API Gateway's Cognito user-pool authorizer checks, done by the local gateway before a protected route runs.

API Gateway (REST, `COGNITO_USER_POOLS`) takes the ID token from the `Authorization` header, with or without
`Bearer `, and lets the request through only if the token is a JWT signed by one of the pool's keys (RS256, `kid`
in the pool's JWKS), issued by the pool (`iss`), for one of its app clients (`aud`), not expired, and an ID token
(`token_use` `id`). The claims then reach the function under `requestContext.authorizer.claims`, each value a
string. Anything else is a 401 `{"message": "Unauthorized"}` from the gateway itself; no function runs.

Locally the pool lives in moto, whose tokens are signed with the key it publishes at
`/<pool id>/.well-known/jwks.json`: the check is the same, nothing is bypassed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

# API Gateway documents no clock skew allowance; one second covers rounding.
_LEEWAY_S = 1


class Unauthorized(Exception):
    """The gateway's 401: the reason stays in the local log, the client hears only `Unauthorized`."""


@dataclass
class CognitoAuthorizer:
    pool_id: str
    region: str
    client_ids: frozenset[str]
    jwks: Callable[[], dict[str, Any]]  # the pool's published key set
    clock: Callable[[], float] = time.time

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    def claims(self, authorization: str | None) -> dict[str, str]:
        """The token's claims as API Gateway passes them to the function, or Unauthorized."""
        token = (authorization or "").strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if not token or token.count(".") != 2:
            raise Unauthorized("no token, or not a JWT")
        try:
            keys = KeySet.import_key_set(self.jwks())
            decoded = jwt.decode(token, keys, algorithms=["RS256"])
        except (JoseError, ValueError, KeyError) as e:
            raise Unauthorized(f"signature not verified: {type(e).__name__}") from e
        claims = decoded.claims
        if claims.get("iss") != self.issuer:
            raise Unauthorized("issued by another pool")
        if claims.get("token_use") != "id":
            raise Unauthorized("not an ID token")
        if claims.get("aud") not in self.client_ids:
            raise Unauthorized("for another app client")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp + _LEEWAY_S < self.clock():
            raise Unauthorized("expired")
        return {k: _as_string(k, v) for k, v in claims.items()}


_DATE_CLAIMS = frozenset({"exp", "iat", "auth_time"})


def _as_string(key: str, value: Any) -> str:
    """A claim as a REST API's Cognito authorizer hands it over: always a string. Lists (`cognito:groups`) are
    joined with commas and the time claims written as dates (`Fri Jul 29 18:52:53 UTC 2016`); the functions read
    groups from either a list or such a string (see complaints.staff)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if key in _DATE_CLAIMS and isinstance(value, int | float):
        return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, dict) else str(value)
