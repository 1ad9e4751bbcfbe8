"""The speed benchmark's own machinery on a tiny estate: structure of its report, never timings."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

SPEC = importlib.util.spec_from_file_location("scan_speed", Path(__file__).resolve().parents[2] / "benchmarks" / "scan_speed.py")
scan_speed = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(scan_speed)


def test_benchmark_reports_requests_by_api_and_its_final_line(tmp_path, capsys):
    result = scan_speed.run(buckets=20, delay_ms=2, concurrency=16, workdir=tmp_path)
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
