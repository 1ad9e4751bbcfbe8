"""The speed benchmark's own machinery on a tiny estate: structure of its report, never timings."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

SPEC = importlib.util.spec_from_file_location("scan_speed", Path(__file__).resolve().parents[2] / "benchmarks" / "scan_speed.py")
scan_speed = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(scan_speed)


# The benchmark runs the shared population script; tests make their own small estate with the
# same command line (--endpoint, --buckets) and the same last line (a JSON summary).
POPULATE = """
import argparse, json, boto3
ap = argparse.ArgumentParser()
ap.add_argument("--endpoint"); ap.add_argument("--buckets", type=int)
args = ap.parse_args()
s3 = boto3.client("s3", endpoint_url=args.endpoint, region_name="us-east-1")
for i in range(args.buckets):
    name = f"bench-{i:05d}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="images/a.jpg", Body=b"x")
    if i % 5 == 0:
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::258327614892:role/external_s3"},
             "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}]}))
print(json.dumps({"buckets": args.buckets, "bucket_api_calls": 2 * args.buckets, "error_count": 0,
                  "extra_buckets": []}))
"""


def test_benchmark_reports_requests_by_api_and_its_final_line(tmp_path, capsys):
    populate = tmp_path / "populate.py"
    populate.write_text(POPULATE)
    result = scan_speed.run(buckets=20, delay_ms=2, concurrency=16, workdir=tmp_path, populate=populate)
    assert result["buckets"] == 20 and result["errors"] == 0
    for api in ("policy", "cors", "encryption", "publicAccessBlock", "versioning"):
        assert result["requests"][api] == 20, api
    assert result["requests"]["list-type"] >= 20  # plus MIRAX folder listings on V7 buckets
    assert result["requests"]["ListBuckets"] == 1
    # The proxy answers ListBuckets with BucketRegion, as AWS does; the collector then asks no GetBucketLocation.
    assert "location" not in result["requests"]
    line = scan_speed.report(result, 20, 2, 16)
    m = re.fullmatch(r"scan_speed: buckets 20, requests/bucket ([\d.]+), wall ([\d.]+) s, bound ([\d.]+) s, "
                     r"ratio ([\d.]+), peak_rss (\d+) MiB", line)
    assert m, line
    assert float(m.group(1)) >= 7
    assert "S3 requests per bucket, by API" in capsys.readouterr().out
