"""What Lambda gets: the layer's requirements follow pyproject.toml, and the domain core stays free of boto3."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _requirements(lines) -> set[str]:
    return {ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")}


def test_layer_requirements_are_the_runtime_dependencies_less_boto3():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {d for d in project["dependencies"] if not d.startswith("boto3")}
    assert _requirements((ROOT / "src" / "requirements.txt").read_text().splitlines()) == runtime


def test_photo_layer_requirements_are_the_photos_extra():
    extra = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["photos"])
    assert _requirements((ROOT / "layers" / "photo" / "requirements.txt").read_text().splitlines()) == extra


def test_the_domain_core_imports_no_aws_sdk():
    for path in (ROOT / "src" / "complaints" / "domain").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not names & {"boto3", "botocore"}, path


def test_lambda_code_imports_no_scikit_learn():
    for base in (ROOT / "src", ROOT / "functions"):
        for path in base.rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "sklearn" not in text and "scipy" not in text, path


def test_lambda_code_imports_no_jieba():
    # The classifier cuts words with its own copy of jieba's cut (complaints.classifier.segmenter); jieba is a
    # development dependency, absent from the layer, so an import of it would fail only in Lambda.
    for base in (ROOT / "src", ROOT / "functions"):
        for path in base.rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            names |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
            assert "jieba" not in names, path


def test_the_published_openapi_document_matches_the_code():
    from complaints_tools.openapi import DOC, generate

    assert DOC.read_text(encoding="utf-8") == generate(), "run: .venv/bin/complaints openapi --write"


def test_the_largest_complaint_the_api_takes_fits_in_the_event_lambda_accepts():
    """Lambda takes at most 6 MB in a synchronous invocation's event; a body the intake would accept but Lambda
    refused would be a 5xx deployed while the local stack answered 201."""
    import base64
    import json

    from complaints.domain.photos import MAX_INLINE_BYTES
    from complaints_tools.local.runtime import Function, compile_route, proxy_event
    from complaints_tools.local.template import load_template

    intake = load_template(ROOT / "template.yaml")["Resources"]["IntakeFunction"]["Properties"]
    cap = int(intake["Environment"]["Variables"]["MAX_REQUEST_BYTES"])
    largest = {  # every field at its longest, in the longest form each is accepted in
        "text": "焚" * 5000,
        "photo": "data:image/jpeg;base64," + base64.encodebytes(b"\xff" * MAX_INLINE_BYTES).decode(),
        "location": {"lat": -89.123456789012345, "lng": -179.123456789012345},
        "channel": "web",
        "contact": {"email": "x" * 64 + "@" + "y" * 250 + ".cn"},
    }
    body = json.dumps(largest, ensure_ascii=True).encode()  # \uXXXX: six bytes a character
    assert len(body) <= cap
    headers = {f"X-Header-{n}": "v" * 200 for n in range(40)} | {"Content-Type": "application/json"}
    route = compile_route("POST", "/complaints", Function("IntakeFunction", lambda n: None))
    event = proxy_event("POST", "/complaints", headers, b"x" * cap, route, "dev", {})
    assert len(json.dumps(event).encode()) <= 6 * 1024 * 1024
    event = proxy_event("POST", "/complaints", headers, body, route, "dev", {})
    assert len(json.dumps(event).encode()) <= 6 * 1024 * 1024
