"""`complaints vehicles import|block`: the car-moving vehicle registry and block list, until the city connects its
traffic police's system.

`import FILE.csv` reads `plate,phone` rows (a header line naming both columns, UTF-8, a BOM allowed), normalises
the plates (complaints.domain.plates) and checks the phones as mainland mobiles, as a requester's are checked. A
file with a bad row is refused whole — nothing is written — unless `--skip-bad` is given: a registry export with a
bad row is more often wrong throughout (swapped columns, a lost leading digit) than in one place. Every bad row is
reported by its line number and what is wrong with it, never by its phone. A plate twice in one file is a bad row
(which phone is right?). The phones are sealed with the vehicle key (VehicleVault, bound to the plate) and written
with BatchWriteItem; a plate already in the registry gets the new phone; plates not in the file stay.

`block --phone P | --plate X [--reason R] [--unblock]` writes (or deletes) the block-list item the car-moving
requests check: `carmove#block#phone#<phone key>` (the requester's id: the HMAC-SHA256 of the phone under the
secret in the PhoneKeyParameter SecureString) or `carmove#block#plate#<plate>`, in the tickets table.

Both print one JSON object with counts and ids, never a phone number.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from complaints.adapters.vehicles import VehicleVault
from complaints.domain.desk.car_moving import _mainland as mainland_phone  # the requester's rule, one copy
from complaints.domain.errors import InvalidComplaint
from complaints.domain.plates import normalise_plate
from complaints.domain.tickets import now_iso

DEFAULT_PHONE_KEY_PARAMETER = "/complaints/car-moving/phone-key"  # template.yaml's PhoneKeyParameter default
BLOCK_PREFIX = "carmove#block#"
MIN_SECRET_BYTES = 16


class VehiclesError(Exception):
    """A command that cannot run as asked (a file, a stack, a parameter); the message says what to fix."""


@dataclass(frozen=True)
class Row:
    line: int
    plate: str
    phone: str


@dataclass(frozen=True)
class BadRow:
    line: int
    problem: str


@dataclass
class Registry:
    """Where the commands write: the stack's VehiclesTable and TicketsTable, its vehicle key, its phone-key secret."""

    vehicles: Any  # boto3 DynamoDB Table
    tickets: Any
    vault: VehicleVault
    ssm: Any
    phone_key_parameter: str

    def phone_key(self, phone: str) -> str:
        try:
            secret = self.ssm.get_parameter(Name=self.phone_key_parameter, WithDecryption=True)["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            raise VehiclesError(
                f"no SSM parameter {self.phone_key_parameter} (PhoneKeyParameter); the local stack seeds it at start,"
                " a deployed stack needs it created (aws ssm put-parameter --type SecureString)"
            ) from None
        return phone_key(secret, phone)


def phone_key(secret: str, phone: str) -> str:
    """The requester's id of a phone (E.164): HMAC-SHA256 under the secret, in hex, as the car-moving function keys
    it (adapters.car_moving.HmacPhoneKeys)."""
    key = secret.encode("utf-8")
    if len(key) < MIN_SECRET_BYTES:
        raise VehiclesError(f"the phone-key secret must be at least {MIN_SECRET_BYTES} bytes")
    return hmac.new(key, phone.encode("utf-8"), hashlib.sha256).hexdigest()


def of_local_stack(url: str, phone_key_parameter: str | None = None) -> Registry:
    """A running local stack (`complaints run`): its resources from /_local/health."""
    from complaints_tools.stacks import local_client, local_resource

    dynamodb, resources = local_resource(url, "dynamodb")
    kms, _ = local_client(url, "kms")
    ssm, _ = local_client(url, "ssm")
    missing = sorted({"VehiclesTable", "VehicleKey", "TicketsTable"} - set(resources))
    if missing:
        raise VehiclesError(f"the local stack at {url} has no {', '.join(missing)}: is it this repository's?")
    return Registry(
        vehicles=dynamodb.Table(resources["VehiclesTable"]),
        tickets=dynamodb.Table(resources["TicketsTable"]),
        vault=VehicleVault(resources["VehicleKey"], kms),
        ssm=ssm,
        phone_key_parameter=phone_key_parameter or _template_default(),
    )


def of_stack(stack_name: str, phone_key_parameter: str | None = None, session: Any = None) -> Registry:
    """A deployed stack, with the caller's AWS credentials: its resources by logical id, PhoneKeyParameter as
    deployed."""
    import boto3

    session = session or boto3.session.Session()
    cfn = session.client("cloudformation")
    try:
        (stack,) = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except cfn.exceptions.ClientError as e:
        raise VehiclesError(f"stack {stack_name} cannot be read ({e.response['Error']['Code']})") from None

    def physical(logical: str) -> str:
        try:
            found = cfn.describe_stack_resource(StackName=stack_name, LogicalResourceId=logical)
        except cfn.exceptions.ClientError as e:
            raise VehiclesError(f"stack {stack_name}: no {logical} ({e.response['Error']['Code']})") from None
        return found["StackResourceDetail"]["PhysicalResourceId"]

    if phone_key_parameter is None:
        given = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
        phone_key_parameter = given.get("PhoneKeyParameter") or DEFAULT_PHONE_KEY_PARAMETER
    dynamodb = session.resource("dynamodb")
    return Registry(
        vehicles=dynamodb.Table(physical("VehiclesTable")),
        tickets=dynamodb.Table(physical("TicketsTable")),
        vault=VehicleVault(physical("VehicleKey"), session.client("kms")),
        ssm=session.client("ssm"),
        phone_key_parameter=phone_key_parameter,
    )


def _template_default() -> str:
    from complaints_tools.cli import ROOT
    from complaints_tools.local.template import load_template

    try:
        parameter = load_template(ROOT / "template.yaml").get("Parameters", {}).get("PhoneKeyParameter", {})
    except OSError:
        return DEFAULT_PHONE_KEY_PARAMETER
    return str(parameter.get("Default") or DEFAULT_PHONE_KEY_PARAMETER)


# ---------------------------------------------------------------- import
def read_rows(path: Path) -> tuple[list[Row], list[BadRow]]:
    """The file's good rows and its bad ones, by line number (the header is line 1; a row with a quoted line break
    is numbered by its last line)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            columns = [c.strip().lower() for c in reader.fieldnames or []]
            if "plate" not in columns or "phone" not in columns:
                raise VehiclesError(f"{path}: the first line must name the columns plate and phone")
            reader.fieldnames = columns
            rows, bad, seen = [], [], {}
            for record in reader:
                found = _row(reader.line_num, record, seen)
                (bad if isinstance(found, BadRow) else rows).append(found)
    except UnicodeDecodeError:
        raise VehiclesError(f"{path}: not UTF-8 text (save the file as CSV UTF-8)") from None
    except csv.Error as e:
        raise VehiclesError(f"{path}: not a CSV file ({e})") from None
    return rows, bad


def _row(line: int, record: dict[str, Any], seen: dict[str, int]) -> Row | BadRow:
    plate, phone = record.get("plate"), record.get("phone")
    if not isinstance(plate, str) or not plate.strip():
        return BadRow(line, "no plate")
    if not isinstance(phone, str) or not phone.strip():
        return BadRow(line, "no phone")
    try:
        plate = normalise_plate(plate)
    except InvalidComplaint as e:  # InvalidPlate: the rule it breaks, never the input
        return BadRow(line, e.message)
    try:
        phone = mainland_phone(phone)
    except InvalidComplaint as e:
        return BadRow(line, e.message)
    if plate in seen:
        return BadRow(line, f"plate {plate} is on line {seen[plate]} already")
    seen[plate] = line
    return Row(line, plate, phone)


def import_rows(registry: Registry, rows: list[Row]) -> int:
    """Seal each row's phone to its plate and write the registry's items; how many were written."""
    at = now_iso()
    with registry.vehicles.batch_writer() as batch:  # BatchWriteItem, 25 a request, unprocessed items sent again
        for row in rows:
            batch.put_item(
                Item={"plate": row.plate, "owner_sealed": registry.vault.seal(row.plate, row.phone), "imported_at": at}
            )
    return len(rows)


def import_file(registry: Registry, path: Path, skip_bad: bool = False) -> dict[str, Any]:
    rows, bad = read_rows(path)
    outcome: dict[str, Any] = {
        "rows": len(rows) + len(bad),
        "bad_rows": [{"line": b.line, "problem": b.problem} for b in bad],
    }
    if bad and not skip_bad:
        return {**outcome, "imported": 0, "refused": True}
    return {**outcome, "imported": import_rows(registry, rows), "refused": False}


# ---------------------------------------------------------------- block list
def block(registry: Registry, phone: str | None, plate: str | None, reason: str | None, unblock: bool) -> dict:
    """Block (or unblock) a requester by their phone, or a plate; what was changed, by id."""
    if phone is not None:
        try:
            kind, key = "phone", registry.phone_key(mainland_phone(phone))
        except InvalidComplaint as e:
            raise VehiclesError(e.message) from None
        shown = {"requester": key}  # the id the audit entries carry, not the phone
    else:
        try:
            kind, key = "plate", normalise_plate(plate or "")
        except InvalidComplaint as e:
            raise VehiclesError(e.message) from None
        shown = {"plate": key}
    pk = f"{BLOCK_PREFIX}{kind}#{key}"
    if unblock:
        gone = registry.tickets.delete_item(Key={"pk": pk}, ReturnValues="ALL_OLD").get("Attributes")
        return {"unblocked": kind, **shown, "was_blocked": gone is not None}
    registry.tickets.put_item(Item={"pk": pk, "reason": reason or "", "at": now_iso()})
    return {"blocked": kind, **shown}
