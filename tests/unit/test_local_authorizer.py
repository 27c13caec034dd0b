"""The local gateway checks staff tokens as API Gateway's Cognito authorizer does: a moto pool's real tokens pass,
expired, foreign, unsigned or tampered ones are refused."""

from __future__ import annotations

import base64
import json

import boto3
import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey
from moto import mock_aws

from complaints_tools.local.authorizer import CognitoAuthorizer, Unauthorized

REGION = "us-east-1"


@pytest.fixture
def pool():
    with mock_aws():
        idp = boto3.client("cognito-idp", region_name=REGION)

        def make_pool(name: str) -> tuple[str, str]:
            pool_id = idp.create_user_pool(PoolName=name, UsernameAttributes=["email"])["UserPool"]["Id"]
            client_id = idp.create_user_pool_client(
                UserPoolId=pool_id, ClientName="desk", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
            )["UserPoolClient"]["ClientId"]
            idp.create_group(UserPoolId=pool_id, GroupName="eco")
            idp.admin_create_user(UserPoolId=pool_id, Username="li@ruian.example", MessageAction="SUPPRESS")
            idp.admin_set_user_password(
                UserPoolId=pool_id, Username="li@ruian.example", Password="Secret-pass-1", Permanent=True
            )
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username="li@ruian.example", GroupName="eco")
            return pool_id, client_id

        def tokens(pool_id: str, client_id: str) -> dict:
            return idp.initiate_auth(
                ClientId=client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": "li@ruian.example", "PASSWORD": "Secret-pass-1"},
            )["AuthenticationResult"]

        def jwks(pool_id: str) -> dict:
            # The pool's published keys, from the same URL as on AWS (moto answers it in process).
            url = f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}/.well-known/jwks.json"
            return requests.get(url, timeout=5).json()

        yield make_pool, tokens, jwks


def _authorizer(pool_id, client_id, jwks, **kw) -> CognitoAuthorizer:
    return CognitoAuthorizer(pool_id, REGION, frozenset({client_id}), lambda: jwks(pool_id), **kw)


def test_a_staff_id_token_passes_with_its_agency_group_as_the_function_will_read_it(pool):
    make_pool, tokens, jwks = pool
    pool_id, client_id = make_pool("staff")
    claims = _authorizer(pool_id, client_id, jwks).claims("Bearer " + tokens(pool_id, client_id)["IdToken"])
    assert claims["cognito:groups"] == "eco"
    assert claims["token_use"] == "id" and claims["email"] == "li@ruian.example"
    assert all(isinstance(v, str) for v in claims.values())
    assert claims["exp"].endswith("UTC " + claims["exp"][-4:])  # written as a date, as API Gateway does


def test_the_token_without_bearer_passes_too(pool):
    make_pool, tokens, jwks = pool
    pool_id, client_id = make_pool("staff")
    assert _authorizer(pool_id, client_id, jwks).claims(tokens(pool_id, client_id)["IdToken"])["aud"] == client_id


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer abc", "Basic bGk6cGFzcw==", "a.b.c"])
def test_no_token_or_not_a_jwt_is_unauthorized(pool, header):
    make_pool, _, jwks = pool
    pool_id, client_id = make_pool("staff")
    with pytest.raises(Unauthorized):
        _authorizer(pool_id, client_id, jwks).claims(header)


def test_an_expired_token_is_unauthorized(pool):
    make_pool, tokens, jwks = pool
    pool_id, client_id = make_pool("staff")
    token = tokens(pool_id, client_id)["IdToken"]
    later = _authorizer(pool_id, client_id, jwks, clock=lambda: 4_000_000_000.0)
    with pytest.raises(Unauthorized, match="expired"):
        later.claims(token)


def test_an_access_token_is_not_accepted_where_an_id_token_is_expected(pool):
    make_pool, tokens, jwks = pool
    pool_id, client_id = make_pool("staff")
    with pytest.raises(Unauthorized, match="not an ID token"):
        _authorizer(pool_id, client_id, jwks).claims(tokens(pool_id, client_id)["AccessToken"])


def test_a_token_of_another_pool_is_unauthorized(pool):
    make_pool, tokens, jwks = pool
    pool_id, client_id = make_pool("staff")
    other_id, other_client = make_pool("elsewhere")  # moto signs both with one key: the issuer tells them apart
    with pytest.raises(Unauthorized, match="another pool"):
        _authorizer(pool_id, client_id, jwks).claims(tokens(other_id, other_client)["IdToken"])


def test_a_token_for_another_app_client_is_unauthorized(pool):
    make_pool, tokens, jwks = pool
    pool_id, client_id = make_pool("staff")
    token = tokens(pool_id, client_id)["IdToken"]
    with pytest.raises(Unauthorized, match="another app client"):
        CognitoAuthorizer(pool_id, REGION, frozenset({"someone-else"}), lambda: jwks(pool_id)).claims(token)


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_an_unsigned_or_tampered_token_is_unauthorized(pool):
    make_pool, tokens, jwks = pool
    pool_id, client_id = make_pool("staff")
    header, payload, signature = _segments(tokens(pool_id, client_id)["IdToken"])
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    authorizer = _authorizer(pool_id, client_id, jwks)
    promoted = _b64({**claims, "cognito:groups": ["admin"]})
    with pytest.raises(Unauthorized):
        authorizer.claims(f"{header}.{promoted}.{signature}")  # a signature of other claims
    with pytest.raises(Unauthorized):
        authorizer.claims(f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{promoted}.")  # no signature at all


def test_a_token_signed_with_a_key_of_our_own_is_unauthorized(pool):
    make_pool, tokens, jwks = pool
    pool_id, client_id = make_pool("staff")
    _, payload, _ = _segments(tokens(pool_id, client_id)["IdToken"])
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, RSAKey.generate_key(2048))
    with pytest.raises(Unauthorized, match="signature"):
        _authorizer(pool_id, client_id, jwks).claims(forged)
