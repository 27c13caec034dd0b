"""The pages' edge: CloudFront's routing and security headers, as template.yaml declares them, on the local stack.

The router is JavaScript that runs at CloudFront; the local stack follows the page table it declares. A test here
runs that JavaScript in Node against the same requests, so the two cannot drift apart.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from complaints.city import load_city
from complaints_tools.local.template import Template
from complaints_tools.local.web import WebEdge, router_code
from complaints_tools.web import site_config, site_files

ROOT = Path(__file__).resolve().parents[2]
MOTO = "http://127.0.0.1:5999"
OWNER_CODE = "Xy_9-" * 6 + "ab"  # 32 characters, as secrets.token_urlsafe(24) makes them
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}
REQUESTS = [
    ("GET", "/", HTML),
    ("GET", "/my", HTML),
    ("GET", "/board", HTML),
    ("GET", "/board", JSON),
    ("GET", "/board/10001", HTML),
    ("HEAD", "/board/10001", HTML),
    ("GET", "/board/10001", JSON),
    ("GET", "/board/abc", HTML),
    ("GET", "/board/10001/extra", HTML),
    ("GET", "/agency", HTML),
    ("GET", "/agency/tickets", HTML),
    ("GET", "/agency/tickets", JSON),
    ("GET", "/triage", HTML),
    ("POST", "/triage", HTML),
    ("POST", "/complaints", JSON),
    ("GET", "/complaints/abc", HTML),
    ("GET", "/openapi.json", {}),
    ("GET", "/car-moving/owner/" + OWNER_CODE, HTML),
    ("HEAD", "/car-moving/owner/" + OWNER_CODE, HTML),
    ("GET", "/car-moving/owner/" + OWNER_CODE, JSON),
    ("POST", "/car-moving/owner/" + OWNER_CODE + "/moved", HTML),
    ("GET", "/car-moving/owner/" + OWNER_CODE + "/moved", HTML),
    ("GET", "/car-moving/owner/short", HTML),
    ("GET", "/car-moving/owner/" + "a" * 65, HTML),
    ("GET", "/car-moving/owner/" + OWNER_CODE[:-1] + "%2F", HTML),
    ("GET", "/car-moving/owner/" + OWNER_CODE + "\n", HTML),
    ("GET", "/car-moving/0123456789abcdef0123456789abcdef", HTML),
    ("GET", "/config.json", JSON),
    ("GET", "/nowhere", HTML),
]


@pytest.fixture(scope="module")
def tpl() -> Template:
    tpl = Template.load(ROOT / "template.yaml")
    tpl.physical["PhotosBucket"] = {
        "Ref": "photos",
        "DomainName": "photos.s3.amazonaws.com",
        "RegionalDomainName": "photos.s3.us-east-1.amazonaws.com",
    }
    return tpl


@pytest.fixture
def site(tmp_path: Path) -> Path:
    for name in ("index", "my", "board", "ticket", "agency", "triage", "owner"):
        (tmp_path / f"{name}.html").write_text(f"<!doctype html><title>{name}</title>", encoding="utf-8")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app.js").write_text("console.log('desk');\n" * 100, encoding="utf-8")
    (tmp_path / "secret.txt").write_text("not an asset", encoding="utf-8")
    return tmp_path


@pytest.fixture
def edge(tpl: Template, site: Path) -> WebEdge:
    return WebEdge(tpl, site, MOTO, lambda: {"city": {"code": "ruian"}})


def local_route(edge: WebEdge, method: str, path: str, headers: dict[str, str]) -> str:
    """'web:<object>' where the local edge answers from the site, 'api' where the API gets the request."""
    answer = edge.answer(method, path, headers)
    if answer is None:
        return "api"
    title = answer.body.decode().split("<title>")[1].split("<")[0] if b"<title>" in answer.body else path
    return "web:/config.json" if path == "/config.json" else f"web:/{title}.html"


def test_navigations_get_pages_and_everything_else_goes_to_the_api(edge):
    routes = {(m, p, h.get("Accept", "")): local_route(edge, m, p, h) for m, p, h in REQUESTS}
    assert routes[("GET", "/", HTML["Accept"])] == "web:/index.html"
    assert routes[("GET", "/board", HTML["Accept"])] == "web:/board.html"
    assert routes[("GET", "/board", "application/json")] == "api"
    assert routes[("GET", "/board/10001", HTML["Accept"])] == "web:/ticket.html"
    assert routes[("GET", "/board/10001", "application/json")] == "api"
    assert routes[("GET", "/board/abc", HTML["Accept"])] == "api"
    assert routes[("GET", "/agency/tickets", HTML["Accept"])] == "api"
    assert routes[("POST", "/triage", HTML["Accept"])] == "api"
    assert routes[("GET", "/config.json", "application/json")] == "web:/config.json"


def test_the_car_owners_link_opens_the_page_in_a_browser_and_the_pages_own_calls_reach_the_api(edge):
    link = "/car-moving/owner/" + OWNER_CODE
    assert local_route(edge, "GET", link, HTML) == "web:/owner.html"
    assert local_route(edge, "HEAD", link, HTML) == "web:/owner.html"
    assert local_route(edge, "GET", link, JSON) == "api"
    assert local_route(edge, "POST", link + "/moved", HTML) == "api"  # the confirmation, however it is sent
    # Only a code of the shape the desk makes is the page; anything else is the API's 404.
    for path in ("/car-moving/owner/short", "/car-moving/owner/" + "a" * 65, link + "/moved", link + "\n"):
        assert local_route(edge, "GET", path, HTML) == "api", path


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed: the router's own code cannot run")
def test_the_local_edge_routes_exactly_as_the_cloudfront_function_in_the_template(tpl, edge):
    code = router_code(tpl).replace("import cf from 'cloudfront';", "const cf = globalThis.cf;")
    script = (
        "let origin;\nglobalThis.cf = {selectRequestOriginById(id) { origin = id; }};\n"
        + code
        + "\nconst cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
        "const out = cases.map(([method, uri, headers]) => {\n"
        "  origin = 'api';\n"
        "  const h = {}; for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = {value: v};\n"
        "  const r = handler({request: {method, uri, headers: h, querystring: {}, cookies: {}}});\n"
        "  return origin === 'web' ? 'web:' + r.uri : 'api';\n"
        "});\nconsole.log(JSON.stringify(out));\n"
    )
    ran = subprocess.run(
        ["node", "-e", script], input=json.dumps(REQUESTS), capture_output=True, text=True, timeout=30, check=True
    )
    assert json.loads(ran.stdout) == [local_route(edge, m, p, h) for m, p, h in REQUESTS]


def test_every_answer_carries_a_policy_without_inline_code_and_the_other_security_headers(edge):
    csp = dict(part.split(" ", 1) for part in edge.headers["Content-Security-Policy"].split("; "))
    assert "unsafe-inline" not in edge.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in edge.headers["Content-Security-Policy"]
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'" and csp["object-src"] == "'none'"
    assert csp["frame-ancestors"] == "'none'"
    # Uploads, photo links and staff sign-in go to AWS; locally AWS is moto's endpoint, named once.
    assert csp["connect-src"] == f"'self' {MOTO}"
    assert MOTO in csp["img-src"] and "amazonaws.com" not in edge.headers["Content-Security-Policy"]
    assert edge.headers["X-Content-Type-Options"] == "nosniff"
    assert edge.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert edge.headers["X-Frame-Options"] == "DENY"
    assert edge.headers["Strict-Transport-Security"].startswith("max-age=63072000")


def test_deployed_the_policy_names_the_photo_bucket_and_cognito_of_the_stacks_region(tpl):
    (policy,) = tpl.of_type("AWS::CloudFront::ResponseHeadersPolicy").values()
    csp = tpl.resolve(
        policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"][
            "ContentSecurityPolicy"
        ]
    )
    assert "https://photos.s3.us-east-1.amazonaws.com" in csp and "https://photos.s3.amazonaws.com" in csp
    assert "https://cognito-idp.us-east-1.amazonaws.com" in csp


def test_files_outside_assets_and_missing_files_are_refused_as_s3_refuses_them(edge):
    for path in ("/assets/../secret.txt", "/assets/%2e%2e/secret.txt", "/assets/none.js"):
        answer = edge.answer("GET", path, HTML)
        assert answer.status == 403 and b"AccessDenied" in answer.body, path
    assert edge.answer("GET", "/secret.txt", HTML) is None  # not a page: the API's to answer (a 404 there)
    assert edge.answer("POST", "/assets/app.js", {}).status == 403


def test_text_files_are_compressed_for_clients_that_accept_it_and_revalidated_by_etag(edge):
    plain = edge.answer("GET", "/assets/app.js", {})
    packed = edge.answer("GET", "/assets/app.js", {"Accept-Encoding": "gzip, br"})
    assert "Content-Encoding" not in plain.headers and packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.body) == plain.body and len(packed.body) < len(plain.body) / 10
    assert plain.headers["Content-Type"] == "text/javascript; charset=utf-8"
    again = edge.answer("GET", "/assets/app.js", {"If-None-Match": plain.headers["ETag"]})
    assert again.status == 304 and again.body == b""


def test_the_site_config_gives_the_pages_the_citys_lists_and_where_staff_sign_in():
    city = load_city(ROOT / "city" / "ruian.toml")
    config = site_config(
        city, cognito_endpoint="https://cognito-idp.cn-north-1.amazonaws.com/", region="cn-north-1", client_id="abc"
    )
    assert config["city"] == {"code": "ruian", "name": city.name, "board_name": city.board}
    assert [d["name"] for d in config["districts"]] == [d.name for d in city.districts]
    assert {a["id"] for a in config["agencies"]} == {a.id for a in city.agencies}
    assert config["cognito"] == {
        "endpoint": "https://cognito-idp.cn-north-1.amazonaws.com/",
        "region": "cn-north-1",
        "client_id": "abc",
    }


def test_what_is_published_leaves_out_installed_test_packages(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("x")
    (tmp_path / "assets" / "app.js").write_text("x")
    (tmp_path / "node_modules" / "axe-core").mkdir(parents=True)
    (tmp_path / "node_modules" / "axe-core" / "axe.js").write_text("x")
    assert [p.as_posix() for p in site_files(tmp_path)] == ["assets/app.js", "index.html"]


class _Stack:
    """The CloudFormation answer `web publish` reads: the stack's outputs and parameters."""

    def __init__(self, outputs: dict[str, str], region: str = "us-east-1") -> None:
        self.outputs = outputs
        self.meta = type("Meta", (), {"region_name": region})()

    def describe_stacks(self, StackName: str) -> dict:  # noqa: N803 - boto3's own argument name
        return {
            "Stacks": [
                {
                    "StackName": StackName,
                    "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()],
                    "Parameters": [{"ParameterKey": "CityCode", "ParameterValue": "ruian"}],
                }
            ]
        }


def test_publishing_uploads_the_site_and_its_config_removes_stale_files_and_invalidates(tmp_path, aws_credentials):
    import boto3
    from moto import mock_aws

    from complaints_tools.web import publish

    (tmp_path / "city").mkdir()
    shutil.copy(ROOT / "city" / "ruian.toml", tmp_path / "city" / "ruian.toml")
    (tmp_path / "web" / "assets").mkdir(parents=True)
    (tmp_path / "web" / "index.html").write_text("<!doctype html><title>desk</title>", encoding="utf-8")
    (tmp_path / "web" / "assets" / "app.js").write_text("console.log(1)", encoding="utf-8")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="web")
        s3.put_object(Bucket="web", Key="assets/old.js", Body=b"gone")
        cloudfront = boto3.client("cloudfront", region_name="us-east-1")
        dist = cloudfront.create_distribution(
            DistributionConfig={
                "CallerReference": "t",
                "Comment": "",
                "Enabled": True,
                "Origins": {
                    "Quantity": 1,
                    "Items": [
                        {
                            "Id": "web",
                            "DomainName": "web.s3.amazonaws.com",
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                        }
                    ],
                },
                "DefaultCacheBehavior": {
                    "TargetOriginId": "web",
                    "ViewerProtocolPolicy": "redirect-to-https",
                    "MinTTL": 0,
                    "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                },
            }
        )["Distribution"]["Id"]
        outputs = {
            "WebBucketName": "web",
            "WebDistributionId": dist,
            "StaffUserPoolClientId": "client-1",
            "WebUrl": "https://d1.cloudfront.net",
        }
        result = publish("desk", tmp_path, cfn=_Stack(outputs), s3=s3, cloudfront=cloudfront)
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="web")["Contents"])
        page = s3.get_object(Bucket="web", Key="index.html")
        config = json.loads(s3.get_object(Bucket="web", Key="config.json")["Body"].read())
        invalidations = cloudfront.list_invalidations(DistributionId=dist)["InvalidationList"]["Items"]
    assert keys == ["assets/app.js", "config.json", "index.html"]
    assert page["ContentType"] == "text/html; charset=utf-8" and page["CacheControl"] == "no-cache"
    assert config["cognito"] == {
        "endpoint": "https://cognito-idp.us-east-1.amazonaws.com/",
        "region": "us-east-1",
        "client_id": "client-1",
    }
    assert result["deleted"] == 1 and len(invalidations) == 1
