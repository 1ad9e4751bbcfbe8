"""AssumeRole is called only for accounts reached through a role: its own small fault matrix
(the account is skipped with the reason, every other account is judged as before, exit 3)."""

from __future__ import annotations

import pytest

from tests.faultproxy import KINDS, fault_for
from tests.hostile.test_fault_matrix import _scan, _shape

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "repeated-token"])
def test_assume_role_fault_skips_that_account_only(moto, aws, tmp_path, kind):
    aws("s3").create_bucket(Bucket="role-matrix")
    text = f"""
[scan]
max_attempts = 1
timeout = 1

[[accounts]]
name = "assumed"
role_arn = "arn:aws:iam::123456789012:role/audit"
endpoint_url = "{moto.endpoint}"

[[accounts]]
name = "plain"
endpoint_url = "{moto.endpoint}"
"""
    clean = _scan(moto.endpoint, text, tmp_path / "clean", [])
    assert clean["exit"] == 0 or clean["exit"] == 1, clean["stderr"]
    fault = fault_for("AssumeRole", kind, timeout=1)
    run = _scan(moto.endpoint, text, tmp_path / kind, [fault])
    assert fault.hits >= 1
    assert "Traceback" not in run["stderr"] + run["stdout"]
    assert run["exit"] == 3, (run["exit"], run["stderr"])
    (skipped,) = run["doc"]["scan"]["skipped_accounts"]
    assert skipped["name"] == "assumed" and "cannot assume" in skipped["reason"], skipped
    # The other account is judged exactly as before (the assumed one reports the same buckets: drop its copies).
    assert _shape(run["doc"]["findings"]) == _shape(clean["doc"]["findings"])
