"""How often the IAM evaluator agrees with external test vectors nobody here wrote.

Run from the repository root:  python benchmarks/iam_conformance.py [--data DIR] [--show]
It reads ../shared/data/iam-eval-vectors.jsonl and iam-condition-operator-vectors.jsonl at
run time (they are test input only and never copied into the repository), prints agreement
per source file, lists the disagreeing ids, and ends with
``conformance: full X/Y, operators A/B``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from auditor.policy import Request, evaluate  # noqa: E402
from auditor.policy.conditions import evaluate_condition  # noqa: E402


def full_case(case: dict) -> str:
    r = case["request"]
    req = Request(
        principal=r.get("principal"),
        principal_type=r["principal_type"],
        action=r["action"],
        resource=r["resource"],
        resource_account=r.get("resource_account"),
        context=r.get("context") or {},
    )
    scps = [level["policies"] for level in case.get("scps") or ()]
    rcps = [level["policies"] for level in case.get("rcps") or ()]
    result = evaluate(
        req,
        identity_policies=case.get("identity_policies") or (),
        resource_policy=case.get("resource_policy"),
        permission_boundary=case.get("permission_boundary"),
        session_policy=case.get("session_policy"),
        scps=scps,
        rcps=rcps,
        vpc_endpoint_policies=case.get("vpc_endpoint_policies") or (),
    )
    return result.decision.value


def operator_case(case: dict) -> bool:
    key = "auditor:conformance-key"
    context = {key: case["key_value"], **(case.get("request_context") or {})}
    outcome = evaluate_condition(case["operator"], (True, [case["key_value"]], False), case["policy_values"], context)
    return bool(outcome)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared" / "data")
    parser.add_argument("--show", action="store_true", help="print each disagreement with its name")
    args = parser.parse_args()
    full_path = args.data / "iam-eval-vectors.jsonl"
    ops_path = args.data / "iam-condition-operator-vectors.jsonl"
    if not full_path.exists() or not ops_path.exists():
        print(f"vectors not found under {args.data} (pass --data DIR)", file=sys.stderr)
        return 2

    per_file: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong: list[str] = []
    full_ok = full_n = 0
    for line in full_path.read_text().splitlines():
        case = json.loads(line)
        source = case["source"]["path"]
        try:
            got = full_case(case)
        except Exception as e:  # a crash is a disagreement, shown
            got = f"error: {type(e).__name__}: {e}"
        ok = got == case["expected"]
        full_ok += ok
        full_n += 1
        per_file[source][0] += ok
        per_file[source][1] += 1
        if not ok:
            wrong.append(f"{case['id']}: expected {case['expected']}, got {got}" + (f"  ({case['name']})" if args.show else ""))

    ops_ok = ops_n = 0
    for line in ops_path.read_text().splitlines():
        case = json.loads(line)
        source = case["source"]["path"]
        try:
            got_match = operator_case(case)
            ok = got_match == case["expected_match"]
        except Exception as e:
            ok, got_match = False, f"error: {e}"
        ops_ok += ok
        ops_n += 1
        per_file[source][0] += ok
        per_file[source][1] += 1
        if not ok:
            wrong.append(f"{case['id']}: expected match={case['expected_match']}, got {got_match}"
                         + (f"  ({case['name']})" if args.show else ""))

    width = max(len(s) for s in per_file)
    for source in sorted(per_file):
        ok, n = per_file[source]
        print(f"{source:<{width}}  {ok:>3}/{n:<3} {'' if ok == n else '  <-'}")
    if wrong:
        print(f"\n{len(wrong)} disagreement(s):")
        for w in wrong:
            print("  " + w)
    print(f"\nconformance: full {full_ok}/{full_n}, operators {ops_ok}/{ops_n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
