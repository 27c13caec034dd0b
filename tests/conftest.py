"""Shared fixtures: the repository's city file and template, and the gov-messages reference data if present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# The same examples on every run and machine: a property test that fails in CI fails the same way on a laptop.
# HYPOTHESIS_PROFILE=explore draws new examples on every run, for a look around after changing the rules.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parents[1]
CITY_FILE = ROOT / "city" / "ruian.toml"
MODEL_DIR = ROOT / "models" / "ruian-default"
GOV_DATA = ROOT.parent / "shared" / "data" / "gov-messages"


@pytest.fixture(scope="session")
def city_file() -> Path:
    return CITY_FILE


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return MODEL_DIR


@pytest.fixture(scope="session")
def city():
    from complaints.city import load_city

    return load_city(CITY_FILE)


@pytest.fixture()
def aws_credentials(monkeypatch):
    """Fake credentials and no custom endpoint, so moto's in-process mock sees every call."""
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="session")
def gov_data() -> Path:
    if not GOV_DATA.is_dir():
        pytest.skip(f"reference data not present at {GOV_DATA} (only on the project's machines)")
    return GOV_DATA


def pytest_configure(config):
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "complaint-desk-tests")
