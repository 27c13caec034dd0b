"""checkov passes on template.yaml, and every check it skips says why (.checkov.yaml)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".checkov.yaml"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def test_every_skipped_check_has_its_reason_above_it():
    skipped = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["skip-check"]
    assert skipped == sorted(set(skipped)), "one entry per check, in order"
    lines = CONFIG.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        entry = re.fullmatch(r"\s*- (CKV\w+)\s*", line)
        if entry:
            reason = lines[i - 1].strip()
            assert reason.startswith("#") and len(reason) > 20, f"{entry.group(1)} is skipped without a reason"
    assert sum(bool(re.fullmatch(r"\s*- (CKV\w+)\s*", line)) for line in lines) == len(skipped)


@pytest.mark.lint
@pytest.mark.skipif(not CHECKOV.exists(), reason="checkov is not installed (make checkov installs it)")
def test_checkov_passes_on_the_template():
    result = subprocess.run([str(CHECKOV), "--config-file", str(CONFIG)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
