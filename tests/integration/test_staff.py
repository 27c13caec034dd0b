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
