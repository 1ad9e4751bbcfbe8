"""Running the CLI on a pseudo-terminal, as a person at a terminal runs it."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path


def run_on_pty(args: list[str], cwd: Path, env: dict[str, str], *, columns: int | None = None,
               stdout_on_pty: bool = True, wait: float = 180) -> tuple[int, str]:
    """Run ``python -m auditor.cli ARGS`` with stderr (and stdout unless ``stdout_on_pty`` is off) on
    a pseudo-terminal of ``columns`` columns; return (exit status, everything the terminal received)."""
    master, slave = pty.openpty()
    if columns is not None:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "auditor.cli", *args], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=slave if stdout_on_pty else subprocess.DEVNULL,
                            stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], wait)
        if not ready:
            proc.kill()
            raise AssertionError(f"no output for {wait:g} s")
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")
