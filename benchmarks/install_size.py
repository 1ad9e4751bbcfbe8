"""Install footprint: size and package count of `pip install .` in a fresh virtual environment, and
the start-up time of `auditor --help`.

    python benchmarks/install_size.py                 # fresh venv in a temporary directory, `pip install .`
    python benchmarks/install_size.py --extra demo    # the same with `.[demo]` (adds the emulator)
    python benchmarks/install_size.py --venv DIR      # measure an existing venv instead (nothing installed)

Needs the package index (PyPI or a mirror) unless --venv is given. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLING = {"pip", "setuptools", "wheel"}


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


def _size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            p = Path(dirpath) / f
            if not p.is_symlink():
                total += p.stat().st_size
    return total


def measure(venv: Path) -> dict:
    py = _bin(venv, "python")
    site = Path(subprocess.check_output([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    dists = json.loads(subprocess.check_output([str(py), "-m", "pip", "list", "--format", "json"], text=True))
    names = sorted(d["name"].lower() for d in dists if d["name"].lower() not in TOOLING)
    tooling = sum(_size(p) for p in site.iterdir() if p.name.split("-")[0].lower() in TOOLING)
    runs = []
    for _ in range(7):
        t0 = time.perf_counter()
        subprocess.run([str(_bin(venv, "auditor")), "--help"], check=True, capture_output=True)
        runs.append(time.perf_counter() - t0)
    return {"packages": len(names), "names": names, "site_mib": (_size(site) - tooling) / 2**20,
            "help_s": statistics.median(runs), "moto": "moto" in names, "pandas": "pandas" in names}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", type=Path, help="measure this existing virtual environment")
    ap.add_argument("--extra", default="", help="install .[EXTRA] instead of .")
    args = ap.parse_args()
    if args.venv:
        figures = measure(args.venv)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            venv = Path(tmp) / "venv"
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            target = f"{ROOT}[{args.extra}]" if args.extra else str(ROOT)
            subprocess.run([str(_bin(venv, "python")), "-m", "pip", "install", "-q", target], check=True)
            figures = measure(venv)
    print(f"packages installed (without pip/setuptools): {figures['packages']}")
    print(f"site-packages size (without pip/setuptools): {figures['site_mib']:.0f} MiB")
    print(f"moto installed: {figures['moto']}; pandas installed: {figures['pandas']}")
    print(f"`auditor --help` start-up (median of 7): {figures['help_s'] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
