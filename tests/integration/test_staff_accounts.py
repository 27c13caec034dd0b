"""Staff accounts on the local stack: the pool comes from template.yaml, each agency of the city file has its group,
and `complaints staff` adds a member and signs them in for real."""

from __future__ import annotations

import base64
import json
import subprocess
import sys


def _complaints(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "complaints_tools.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_a_staff_member_added_on_the_local_stack_signs_in_with_their_agency_in_the_token(stack):
    pool = stack.resource("StaffUserPool")
    groups = {g["GroupName"] for g in stack.aws("cognito-idp").list_groups(UserPoolId=pool)["Groups"]}
    assert {"eco", "town-shangwang", "admin"} <= groups

    added = _complaints(
        "staff", "add", "--agency", "eco", "--email", "chen@ruian.example", "--password", "Secret-pass-12",
        "--url", stack.url,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {"email": "chen@ruian.example", "agency": "eco", "status": "created"}

    signed_in = _complaints("staff", "token", "--email", "chen@ruian.example", "--password", "Secret-pass-12",
                            "--url", stack.url)  # fmt: skip
    assert signed_in.returncode == 0, signed_in.stderr
    token = signed_in.stdout.strip()
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert (claims["token_use"], claims["cognito:groups"], claims["email"]) == ("id", ["eco"], "chen@ruian.example")

    wrong = _complaints("staff", "token", "--email", "chen@ruian.example", "--password", "guess", "--url", stack.url)
    assert wrong.returncode == 1 and "wrong e-mail or password" in wrong.stderr and not wrong.stdout


def test_staff_of_an_agency_the_city_file_lacks_is_refused(stack):
    refused = _complaints("staff", "add", "--agency", "nobody", "--email", "x@ruian.example", "--url", stack.url)
    assert refused.returncode == 1 and "no agency 'nobody'" in refused.stderr


def _token(stack, agency: str, email: str) -> str:
    password = "Secret-pass-12"
    assert _complaints("staff", "add", "--agency", agency, "--email", email, "--password", password,
                       "--url", stack.url).returncode == 0  # fmt: skip
    return _complaints("staff", "token", "--email", email, "--password", password, "--url", stack.url).stdout.strip()


def test_the_agency_api_answers_only_a_signed_in_staff_member_and_names_their_agency(stack):
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Bearer a.b.c"}):
        refused = stack.request("GET", "/agency/me", headers=headers)
        assert refused.status == 401, (headers, refused.body)
        assert refused.json()["error"]["code"] == "unauthorized"

    token = _token(stack, "town-shangwang", "wang@ruian.example")
    me = stack.request("GET", "/agency/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 200, me.body
    body = me.json()
    assert body["agency"] == {"id": "town-shangwang", "name": "上望街道办事处", "kind": "town"}
    assert (body["email"], body["admin"]) == ("wang@ruian.example", False) and body["user_id"]

    admin = stack.request("GET", "/agency/me", headers={"Authorization": _token(stack, "admin", "root@ruian.example")})
    assert admin.status == 200 and (admin.json()["agency"], admin.json()["admin"]) == (None, True)
