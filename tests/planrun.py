"""Applying a plan as a person does (its plan.sh, with the real aws CLI) and checking again."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from auditor.cli import main


def apply_plan(out: Path) -> None:
    """Run ``out/plan.sh``; it must succeed."""
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    run = subprocess.run(["sh", str(out / "plan.sh")], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr


def check_says_ready(argv: list[str], capsys) -> int:
    """``auditor check ARGV`` ends READY (and exits 0, or 3 for something it could not verify); its status."""
    code = main(["check", *argv])
    printed = capsys.readouterr().out
    assert "READY" in printed and "NOT READY" not in printed, printed
    assert code in (0, 3)
    return code
