"""The progress display: shown on a terminal, never in pipes or with --quiet."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.ptyrun import run_on_pty


def _run(args, tmp_path, *, tty: bool) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal (tty) or a pipe; return (exit status, stderr)."""
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    cmd = [sys.executable, "-m", "auditor.cli", *args]
    if not tty:
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        return done.returncode, done.stderr
    return run_on_pty(args, tmp_path, env, stdout_on_pty=False, wait=120)


def test_progress_bar_on_a_terminal_and_not_otherwise(moto, aws, tmp_path):
    for i in range(3):
        aws("s3").create_bucket(Bucket=f"progress-bucket-{i}")
    (tmp_path / "auditor.toml").write_text(f'[[accounts]]\nname = "main"\nendpoint_url = "{moto.endpoint}"\n')
    args = ["scan", "--format", "json", "--no-history"]

    code, shown = _run(args, tmp_path, tty=True)
    assert code == 0, shown  # three empty buckets: only a medium fail, under the default --fail-on high
    assert "Collecting buckets" in shown and "3/3" in shown, shown
    assert "0/0" not in shown and "/?" not in shown, shown  # no count until the buckets are listed: then the real total
    assert "Evaluating rules" in shown, shown

    code, quiet = _run([*args, "--quiet"], tmp_path, tty=True)
    assert code == 0 and "Collecting buckets" not in quiet and "Evaluating" not in quiet, quiet

    code, piped = _run(args, tmp_path, tty=False)
    assert code == 0 and "Collecting buckets" not in piped and "Evaluating" not in piped, piped
