"""The API's OpenAPI document, generated from the intake handler's routes and pydantic models."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from unittest import mock

from complaints_tools.local.runtime import load_handler

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "openapi.json"


def generate() -> str:
    # Importing the handler builds its desk from the environment; no AWS call happens at init, so
    # placeholders are enough to read the routes.
    env = {
        "TICKETS_TABLE": "-",
        "CITY_CONFIG": str(ROOT / "city" / "ruian.toml"),
        "PHOTOS_BUCKET": "-",
        "CLASSIFY_QUEUE_URL": "-",
        "IDEMPOTENCY_TABLE": "-",
        "CONTACT_KEY_ID": "-",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }
    with mock.patch.dict(os.environ, env):
        load_handler(ROOT / "functions" / "intake", "app", "lambda_handler", "lambda_intake_openapi")
        doc = sys.modules["lambda_intake_openapi"].openapi_document()
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
