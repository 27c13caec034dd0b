"""`complaints staff`: accounts in the staff pool, one agency each, and a real sign-in that the gateway accepts."""

from __future__ import annotations

import boto3
import pytest
import requests
from moto import mock_aws

from complaints.staff import groups_in_claim
from complaints_tools.local.authorizer import CognitoAuthorizer
from complaints_tools.staff import StaffError, StaffPool

REGION = "us-east-1"


@pytest.fixture
def staff_pool():
    with mock_aws():
        idp = boto3.client("cognito-idp", region_name=REGION)
        pool_id = idp.create_user_pool(PoolName="staff", UsernameAttributes=["email"])["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName="workspace", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
        )["UserPoolClient"]["ClientId"]
        yield StaffPool(pool_id, client_id, idp)


def test_every_agency_of_the_city_file_has_a_group_and_so_has_admin(staff_pool, city):
    assert staff_pool.sync_groups(city) == {"created": len(city.agencies) + 1, "unchanged": 0}
    assert staff_pool.sync_groups(city) == {"created": 0, "unchanged": len(city.agencies) + 1}
    groups = {g["GroupName"] for g in staff_pool.idp.list_groups(UserPoolId=staff_pool.pool_id)["Groups"]}
    assert {"eco", "admin"} <= groups and len(groups) == len(city.agencies) + 1


def test_a_staff_member_added_with_a_password_signs_in_and_the_gateway_reads_their_agency(staff_pool, city):
    added = staff_pool.add(city, "eco", "li@ruian.example", "Secret-pass-1")
    assert added == {"email": "li@ruian.example", "agency": "eco", "status": "created"}
    token = staff_pool.token("li@ruian.example", "Secret-pass-1")
    url = f"https://cognito-idp.{REGION}.amazonaws.com/{staff_pool.pool_id}/.well-known/jwks.json"
    gateway = CognitoAuthorizer(
        staff_pool.pool_id, REGION, frozenset({staff_pool.client_id}), lambda: requests.get(url, timeout=5).json()
    )
    claims = gateway.claims(f"Bearer {token}")
    assert groups_in_claim(claims["cognito:groups"]) == ["eco"]
    assert claims["email"] == "li@ruian.example"


def test_adding_the_same_person_again_changes_nothing_and_a_second_agency_is_refused(staff_pool, city):
    staff_pool.add(city, "eco", "li@ruian.example", "Secret-pass-1")
    assert staff_pool.add(city, "eco", "li@ruian.example")["status"] == "exists"
    with pytest.raises(StaffError, match="already staff of eco"):
        staff_pool.add(city, "jtj", "li@ruian.example")


def test_an_agency_the_city_file_does_not_have_is_refused(staff_pool, city):
    with pytest.raises(StaffError, match="no agency 'ecology'"):
        staff_pool.add(city, "ecology", "li@ruian.example", "Secret-pass-1")


def test_a_wrong_password_is_a_clear_error_not_a_token(staff_pool, city):
    staff_pool.add(city, "eco", "li@ruian.example", "Secret-pass-1")
    with pytest.raises(StaffError, match="wrong e-mail or password"):
        staff_pool.token("li@ruian.example", "guess")
    with pytest.raises(StaffError, match="wrong e-mail or password"):
        staff_pool.token("nobody@ruian.example", "Secret-pass-1")


@pytest.mark.parametrize(
    ("claim", "groups"),
    [
        (["eco"], ["eco"]),
        ("eco", ["eco"]),
        ("eco,admin", ["eco", "admin"]),
        ("[eco admin]", ["eco", "admin"]),
        ("", []),
    ],
)
def test_groups_are_read_however_the_gateway_writes_the_claim(claim, groups):
    assert groups_in_claim(claim) == groups


def test_a_token_names_its_agency_and_one_in_no_agency_or_several_is_not_staff(city):
    from complaints.staff import NotStaff, staff_member

    member = staff_member({"sub": "u-1", "email": "li@ruian.example", "cognito:groups": "eco"}, city)
    assert (member.agency.id, member.admin, member.user_id) == ("eco", False, "u-1")
    assert staff_member({"sub": "u-2", "cognito:groups": "admin"}, city).as_dict()["agency"] is None
    with pytest.raises(NotStaff, match="no agency"):
        staff_member({"sub": "u-3", "cognito:groups": "ecology"}, city)  # a group the city file no longer has
    with pytest.raises(NotStaff, match="no agency"):
        staff_member({"sub": "u-4"}, city)
    with pytest.raises(NotStaff, match="several"):
        staff_member({"sub": "u-5", "cognito:groups": "eco,jtj"}, city)
