"""Writing report files so that a crash never leaves half a report behind.

Regular files (and paths that do not exist yet) are written to a temporary file beside the
target and renamed into place. Anything else — ``-`` (standard output), ``/dev/stdout``, a
FIFO, a character or block device, a socket — is written in place: renaming over it would
replace the device node or the pipe with a regular file.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

STDOUT = "-"
_STD_FDS = {"/dev/stdout": 1, "/dev/stderr": 2, "/dev/fd/1": 1, "/dev/fd/2": 2,
            "/proc/self/fd/1": 1, "/proc/self/fd/2": 2}


def _std_fd(path: Path | str) -> int | None:
    """The descriptor a path names when it is standard output or error (``-`` is standard output)."""
    text = os.fspath(path)
    if text == STDOUT:
        return 1
    return _STD_FDS.get(text)


def is_special(path: Path | str) -> bool:
    """``path`` is written in place: ``-``, standard output/error, or an existing non-regular file."""
    if _std_fd(path) is not None:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _write_in_place(path: Path | str, data: bytes) -> None:
    fd = _std_fd(path)
    if fd is not None:
        stream = sys.stdout if fd == 1 else sys.stderr
        with contextlib.suppress(Exception):
            stream.flush()  # text already printed comes first
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        return
    # O_TRUNC is ignored by devices and FIFOs; no O_CREAT: the node exists and is not replaced.
    fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    finally:
        os.close(fd)


def write_atomic(path: Path, data: str | bytes, *, encoding: str = "utf-8") -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place (special files: in place)."""
    raw = data.encode(encoding) if isinstance(data, str) else data
    if is_special(path):
        _write_in_place(path, raw)
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _created_dirs(parent: Path) -> list[Path]:
    """The missing directories of ``parent``, outermost first (to remove them again on failure)."""
    missing = []
    p = parent.absolute()
    while not p.exists():
        missing.append(p)
        p = p.parent
    return list(reversed(missing))


@contextlib.contextmanager
def atomic_text(path: Path | str, encoding: str = "utf-8", newline: str | None = None) -> Iterator[TextIO]:
    """A text file written in a temporary file beside ``path`` and renamed into place when the block ends.

    Special files (``-``, devices, FIFOs) are written in place instead. When the block fails (or the
    process is told to stop), the temporary file and any directory made for it are removed.
    """
    if is_special(path):
        fd = _std_fd(path)
        if fd is not None:
            buf = io.StringIO(newline=newline)
            yield buf
            _write_in_place(path, buf.getvalue().encode(encoding))
            return
        with open(path, "w", encoding=encoding, newline=newline) as fh:
            yield fh
        return
    path = Path(path)
    made = _created_dirs(path.parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline=newline) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        for d in reversed(made):
            with contextlib.suppress(OSError):
                d.rmdir()  # only if empty
        raise
