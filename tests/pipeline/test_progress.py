"""The progress display: shown on a terminal, never in pipes or with --quiet."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys


def _run(args, tmp_path, *, tty: bool) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal (tty) or a pipe; return (exit status, stderr)."""
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    cmd = [sys.executable, "-m", "auditor.cli", *args]
    if not tty:
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        return done.returncode, done.stderr
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            proc.kill()
            raise AssertionError("no output from the scan for 120 s")
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


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
