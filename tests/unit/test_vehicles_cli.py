"""`complaints vehicles import|block`: the registry's rows sealed to their plates, a file with a bad row refused
whole (or its good rows only, when asked), block-list items keyed as the car-moving requests look them up; no phone
in anything printed."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from moto import mock_aws

from complaints.adapters.vehicles import VehicleVault
from complaints_tools import cli, vehicles
from complaints_tools.local.aws_server import AwsServer

REGION = "us-east-1"
SECRET = "a-phone-key-secret-of-32-characters"
PARAMETER = "/complaints/car-moving/phone-key"


def make_resources(session_client, session_resource) -> dict[str, str]:
    key_id = session_client("kms").create_key(Description="VehicleKey")["KeyMetadata"]["KeyId"]
    ddb = session_resource("dynamodb")
    for name, key in (("vehicles", "plate"), ("tickets", "pk")):
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    session_client("ssm").put_parameter(Name=PARAMETER, Value=SECRET, Type="SecureString")
    return {"VehiclesTable": "vehicles", "TicketsTable": "tickets", "VehicleKey": key_id}


@pytest.fixture
def registry(aws_credentials):
    with mock_aws():
        resources = make_resources(boto3.client, boto3.resource)
        ddb = boto3.resource("dynamodb")
        yield vehicles.Registry(
            vehicles=ddb.Table("vehicles"),
            tickets=ddb.Table("tickets"),
            vault=VehicleVault(resources["VehicleKey"]),
            ssm=boto3.client("ssm"),
            phone_key_parameter=PARAMETER,
        )


def csv_file(tmp_path, text, name="owners.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8-sig")
    return path


def stored(registry):
    return {i["plate"]: i for i in registry.vehicles.scan()["Items"]}


def test_rows_are_written_by_normalised_plate_with_the_phone_sealed_to_it(registry, tmp_path):
    path = csv_file(tmp_path, "plate,phone\n浙c·12345,139 0000 0001\n浙CD12345,+86 139-0000-0002\n")
    outcome = vehicles.import_file(registry, path)
    assert outcome == {"rows": 2, "bad_rows": [], "imported": 2, "refused": False}
    items = stored(registry)
    assert set(items) == {"浙C12345", "浙CD12345"}
    assert registry.vault.open("浙C12345", items["浙C12345"]["owner_sealed"]) == "+8613900000001"
    assert registry.vault.open("浙CD12345", items["浙CD12345"]["owner_sealed"]) == "+8613900000002"
    assert items["浙C12345"]["imported_at"].endswith("Z")


def test_a_file_with_a_bad_row_is_refused_whole_and_each_bad_row_named_by_its_line(registry, tmp_path):
    path = csv_file(
        tmp_path,
        "plate,phone\n浙C12345,13900000001\n浙C1234,13900000002\n浙C54321,0577-6581234\n,13900000004\n"
        "浙c12345,13900000005\n",
    )
    outcome = vehicles.import_file(registry, path)
    assert outcome["refused"] is True and outcome["imported"] == 0 and outcome["rows"] == 5
    assert [b["line"] for b in outcome["bad_rows"]] == [3, 4, 5, 6]
    assert "7 characters" in outcome["bad_rows"][0]["problem"]
    assert "mainland mobile" in outcome["bad_rows"][1]["problem"]
    assert outcome["bad_rows"][3]["problem"] == "plate 浙C12345 is on line 2 already"
    assert "6581234" not in json.dumps(outcome, ensure_ascii=False)
    assert stored(registry) == {}


def test_skip_bad_imports_the_good_rows_of_a_file_with_bad_ones(registry, tmp_path):
    path = csv_file(tmp_path, "Plate,Phone\n浙C12345,13900000001\n浙C1234,13900000002\n")
    outcome = vehicles.import_file(registry, path, skip_bad=True)
    assert (outcome["imported"], [b["line"] for b in outcome["bad_rows"]]) == (1, [3])
    assert set(stored(registry)) == {"浙C12345"}


def test_a_reimport_gives_a_plate_its_new_phone_and_leaves_other_plates(registry, tmp_path):
    vehicles.import_file(registry, csv_file(tmp_path, "plate,phone\n浙C12345,13900000001\n浙C54321,13900000002\n"))
    vehicles.import_file(registry, csv_file(tmp_path, "plate,phone\n浙C12345,13900000009\n", "again.csv"))
    items = stored(registry)
    assert registry.vault.open("浙C12345", items["浙C12345"]["owner_sealed"]) == "+8613900000009"
    assert set(items) == {"浙C12345", "浙C54321"}


def test_a_file_without_the_two_columns_is_refused_before_any_row(registry, tmp_path):
    with pytest.raises(vehicles.VehiclesError, match="plate and phone"):
        vehicles.import_file(registry, csv_file(tmp_path, "plate,mobile\n浙C12345,13900000001\n"))


def test_a_blocked_requester_is_keyed_by_the_hmac_of_their_phone_and_unblocked_again(registry):
    outcome = vehicles.block(registry, "138 0000 0001", None, "abuse", unblock=False)
    key = hmac.new(SECRET.encode(), b"+8613800000001", hashlib.sha256).hexdigest()
    assert outcome == {"blocked": "phone", "requester": key}
    item = registry.tickets.get_item(Key={"pk": f"carmove#block#phone#{key}"})["Item"]
    assert item["reason"] == "abuse" and item["at"].endswith("Z")
    assert vehicles.block(registry, "+8613800000001", None, None, unblock=True)["was_blocked"] is True
    assert "Item" not in registry.tickets.get_item(Key={"pk": f"carmove#block#phone#{key}"})


def test_a_plate_is_blocked_in_its_normalised_form(registry):
    assert vehicles.block(registry, None, "浙c·12345", None, unblock=False) == {"blocked": "plate", "plate": "浙C12345"}
    assert "Item" in registry.tickets.get_item(Key={"pk": "carmove#block#plate#浙C12345"})


def test_a_phone_that_is_no_mainland_mobile_or_a_missing_secret_is_a_clear_error(registry):
    with pytest.raises(vehicles.VehiclesError, match="mainland mobile"):
        vehicles.block(registry, "0577-6581234", None, None, unblock=False)
    registry.ssm.delete_parameter(Name=PARAMETER)
    with pytest.raises(vehicles.VehiclesError, match=f"no SSM parameter {PARAMETER}"):
        vehicles.block(registry, "13800000001", None, None, unblock=False)


@pytest.fixture
def local_stack(monkeypatch):
    """The moto process and a /_local/health page naming its resources, as `complaints run` serves them."""
    for k, v in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    moto = AwsServer(REGION).start()
    resources = make_resources(
        lambda service: boto3.client(service, endpoint_url=moto.endpoint, region_name=REGION),
        lambda service: boto3.resource(service, endpoint_url=moto.endpoint, region_name=REGION),
    )
    health = json.dumps({"aws_endpoint": moto.endpoint, "region": REGION, "resources": resources}).encode()

    class Health(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/_local/health" else 404)
            self.end_headers()
            self.wfile.write(health)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", moto
    server.shutdown()
    moto.stop()


def test_the_commands_find_a_local_stack_by_its_url_and_print_counts_not_phones(local_stack, tmp_path, capsys):
    url, moto = local_stack
    path = csv_file(tmp_path, "plate,phone\n浙C12345,13900000001\n浙C1234,13900000002\n")
    assert cli.main(["vehicles", "import", str(path), "--url", url]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["refused"] is True and f"{path}:3:" in err
    assert cli.main(["vehicles", "import", str(path), "--url", url, "--skip-bad"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["imported"] == 1
    assert cli.main(["vehicles", "block", "--phone", "13900000001", "--reason", "abuse", "--url", url]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["blocked"] == "phone"
    for printed in (out, err):
        assert "13900000001" not in printed and "13900000002" not in printed
    table = boto3.resource("dynamodb", endpoint_url=moto.endpoint, region_name=REGION).Table("vehicles")
    assert [i["plate"] for i in table.scan()["Items"]] == ["浙C12345"]


def test_a_deployed_stack_is_found_by_its_logical_ids_and_its_phone_key_parameter(aws_credentials):
    table = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
        },
    }
    template = {
        "Parameters": {"PhoneKeyParameter": {"Type": "String", "Default": PARAMETER}},
        "Resources": {
            "VehicleKey": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17"}}},
            "VehiclesTable": table,
            "TicketsTable": table,
        },
    }
    with mock_aws():
        cfn = boto3.client("cloudformation")
        cfn.create_stack(
            StackName="desk",
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": "PhoneKeyParameter", "ParameterValue": "/desk/phone-key"}],
        )
        found = vehicles.of_stack("desk")
        physical = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cfn.describe_stack_resources(StackName="desk")["StackResources"]
        }
        assert found.vehicles.name == physical["VehiclesTable"] and found.tickets.name == physical["TicketsTable"]
        assert found.vault.key_id == physical["VehicleKey"] and found.phone_key_parameter == "/desk/phone-key"
        with pytest.raises(vehicles.VehiclesError, match="stack gone"):
            vehicles.of_stack("gone")
