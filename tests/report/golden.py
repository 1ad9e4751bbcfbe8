"""Golden files: each reporter's output for ``sample_result()`` is kept in tests/report/golden/.

After an intended change, regenerate them with ``AUDITOR_UPDATE_GOLDEN=1 python -m pytest tests/report``
and review the diff before committing.
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def check_golden(path: Path) -> None:
    """``path`` is byte-identical to its golden copy (or becomes it, with AUDITOR_UPDATE_GOLDEN=1)."""
    golden = GOLDEN / path.name
    if os.environ.get("AUDITOR_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_bytes(path.read_bytes())
    assert golden.exists(), f"no golden file {golden.name}: run with AUDITOR_UPDATE_GOLDEN=1"
    assert path.read_bytes() == golden.read_bytes(), (
        f"{path.name} differs from golden/{golden.name} (AUDITOR_UPDATE_GOLDEN=1 to accept the new output)")
