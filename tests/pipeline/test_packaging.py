"""Every package and data file ships in the wheel (a fresh `pip install .` must run the demo)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_declared():
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "auditor").rglob("__init__.py")}
    assert found <= declared, f"missing from pyproject packages: {sorted(found - declared)}"


def test_the_runtime_install_is_light_and_the_extras_bring_the_emulator():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"]).lower()
    assert "moto" not in runtime and "pandas" not in runtime  # `pip install .` pulls neither
    extras = project["optional-dependencies"]
    assert any(d.startswith("moto[server]") for d in extras["demo"])  # `auditor demo`
    assert any(d.startswith("moto[server]") for d in extras["test"])  # the tests run against moto's server


def test_demo_without_the_emulator_says_what_to_install(tmp_path):
    import subprocess
    import sys

    code = ("import sys; sys.modules['moto'] = None  # as if auditor[demo] were not installed\n"
            "from auditor.cli import main; sys.exit(main(['demo']))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0 and "pip install 'auditor[demo]'" in done.stderr, done.stderr
