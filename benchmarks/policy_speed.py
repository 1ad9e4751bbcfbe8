"""Evaluations per second for a 20-statement bucket policy with conditions (one core).

Run by hand:  python benchmarks/policy_speed.py [--seconds 3]
Ends with ``policy_speed: N evaluations/s``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from auditor.policy import Request, compile_policy, evaluate  # noqa: E402

V7 = "arn:aws:iam::258327614892:role/external_s3"


def bucket_policy(bucket: str = "radiology-scans") -> dict:
    arn = f"arn:aws:s3:::{bucket}"
    statements = [
        {"Sid": "DenyInsecure", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [arn, f"{arn}/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "DenyOutsideVpce", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"{arn}/*",
         "Condition": {"StringNotEqualsIfExists": {"aws:SourceVpce": "vpce-1a2b3c4d"},
                       "StringNotEquals": {"aws:PrincipalAccount": ["258327614892", "111122223333"]}}},
        {"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": V7}, "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": f"{arn}/slides/*"},
        {"Sid": "DarwinList", "Effect": "Allow", "Principal": {"AWS": V7}, "Action": "s3:ListBucket", "Resource": arn,
         "Condition": {"StringLike": {"s3:prefix": ["slides/*"]}}},
    ]
    for i in range(16):
        statements.append({
            "Sid": f"Team{i}", "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::1111222233{i:02d}:role/team-{i}"},
            "Action": ["s3:GetObject", "s3:GetObjectTagging"], "Resource": f"{arn}/team-{i}/*",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"},
                          "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}},
        })
    return {"Version": "2012-10-17", "Statement": statements}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    policy = compile_policy(bucket_policy(), "bucket-policy", "resource")
    vendor_side = compile_policy({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}, "vendor", "identity")
    context = {"aws:SecureTransport": "true", "aws:PrincipalAccount": "258327614892", "aws:PrincipalArn": V7}
    requests = [Request(V7, "iam_role", action, f"arn:aws:s3:::radiology-scans/{key}", "111122223333", context,
                        frozenset({"aws:sourceip"}))
                for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
                for key in ("slides/a.mrxs", "data/thumb.jpg", "team-3/x.csv")]
    n = 0
    start = time.perf_counter()
    deadline = start + args.seconds
    while time.perf_counter() < deadline:
        for req in requests:
            evaluate(req, identity_policies=(vendor_side,), resource_policy=policy)
        n += len(requests)
    rate = n / (time.perf_counter() - start)
    print(f"{len(policy.statements)}-statement bucket policy with conditions, {len(requests)} request shapes")
    print(f"policy_speed: {rate:,.0f} evaluations/s".replace(",", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
