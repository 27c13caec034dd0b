"""`complaints staff`: agency staff accounts in the stack's Cognito user pool (`StaffUserPool` in template.yaml).

Each agency of the city file has a group named by its id (`eco`, `town-shangwang`, `triage-desk`), and there is
an `admin` group; a staff member belongs to exactly one agency's group. API Gateway's Cognito authorizer lets
a token through; the functions read the agency from its `cognito:groups` claim.

    complaints staff add --agency eco --email li@ruian.example --password '…' --url http://127.0.0.1:3000
    complaints staff token --email li@ruian.example --password '…' --url http://127.0.0.1:3000

`--url` is a running local stack (its pool lives in moto), `--stack` a deployed one. Without `--password`,
Cognito e-mails the new user an invitation with a temporary password (on AWS; moto sends nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from complaints.city import City
from complaints.staff import ADMIN_GROUP
from complaints_tools.stacks import local_client, outputs


class StaffError(Exception):
    """Something the operator must fix: an unknown agency, a user already in another agency, a wrong password."""


@dataclass(frozen=True)
class StaffPool:
    pool_id: str
    client_id: str
    idp: Any

    @classmethod
    def of_stack(cls, stack_name: str, cfn: Any = None, idp: Any = None) -> StaffPool:
        found = outputs(stack_name, cfn)
        return cls(found["StaffUserPoolId"], found["StaffUserPoolClientId"], idp or boto3.client("cognito-idp"))

    @classmethod
    def of_local_stack(cls, url: str) -> StaffPool:
        idp, resources = local_client(url, "cognito-idp")
        return cls(resources["StaffUserPool"], resources["StaffUserPoolClient"], idp)

    # ------------------------------------------------------------------ groups
    def sync_groups(self, city: City) -> dict[str, int]:
        """One group per agency of the city file, and `admin`; groups of agencies no longer there are kept (their
        members may still need to sign in to hand tickets over). Idempotent."""
        existing = set()
        for page in self.idp.get_paginator("list_groups").paginate(UserPoolId=self.pool_id):
            existing |= {g["GroupName"] for g in page["Groups"]}
        wanted = {a.id: a.name for a in city.agencies} | {ADMIN_GROUP: "the desk's administrators"}
        created = 0
        for group, description in wanted.items():
            if group not in existing:
                self.idp.create_group(UserPoolId=self.pool_id, GroupName=group, Description=description[:2048])
                created += 1
        return {"created": created, "unchanged": len(wanted) - created}

    # ------------------------------------------------------------------- users
    def add(self, city: City, agency: str, email: str, password: str | None = None) -> dict[str, str]:
        """A staff member of `agency` (an agency id of the city file, or `admin`)."""
        if agency != ADMIN_GROUP and agency not in city.agency_ids():
            raise StaffError(f"no agency {agency!r} in the city file (ids: {', '.join(a.id for a in city.agencies)})")
        self.sync_groups(city)
        groups = self.groups_of(email)
        if groups - {agency}:
            raise StaffError(f"{email} is already staff of {', '.join(sorted(groups))}; one agency per person")
        if groups:
            status = "exists"
        else:
            kwargs: dict[str, Any] = {}
            if password:
                kwargs["MessageAction"] = "SUPPRESS"  # a permanent password follows: no invitation
            try:
                self.idp.admin_create_user(
                    UserPoolId=self.pool_id,
                    Username=email,
                    UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
                    DesiredDeliveryMediums=["EMAIL"],
                    **kwargs,
                )
                status = "created"
            except self.idp.exceptions.UsernameExistsException:
                status = "exists"
        if password:
            self.idp.admin_set_user_password(UserPoolId=self.pool_id, Username=email, Password=password, Permanent=True)
        self.idp.admin_add_user_to_group(UserPoolId=self.pool_id, Username=email, GroupName=agency)
        return {"email": email, "agency": agency, "status": status}

    def groups_of(self, email: str) -> set[str]:
        try:
            pages = self.idp.get_paginator("admin_list_groups_for_user").paginate(
                UserPoolId=self.pool_id, Username=email
            )
            return {g["GroupName"] for page in pages for g in page["Groups"]}
        except self.idp.exceptions.UserNotFoundException:
            return set()

    def token(self, email: str, password: str) -> str:
        """The ID token of a real sign-in (USER_PASSWORD_AUTH), as the agency workspace gets it."""
        try:
            result = self.idp.initiate_auth(
                ClientId=self.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": email, "PASSWORD": password},
            )
        except (self.idp.exceptions.NotAuthorizedException, self.idp.exceptions.UserNotFoundException) as e:
            raise StaffError("wrong e-mail or password") from e
        if "AuthenticationResult" not in result:
            # NEW_PASSWORD_REQUIRED: an invited user must choose a password first.
            raise StaffError(f"sign-in needs {result.get('ChallengeName')}: set a password with `staff add --password`")
        return result["AuthenticationResult"]["IdToken"]
