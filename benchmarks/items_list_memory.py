"""Peak memory of `auditor items-list` as the bucket grows: it must stay flat.

Run by hand:  python benchmarks/items_list_memory.py [--keys 100000]
A child process runs the emulator and fills the bucket straight into its backend (fast);
this process streams the items list over HTTP and reports its own peak RSS, for a small
bucket and for the full one. Ends with ``items_list_memory: keys N, peak_rss M MiB (baseline B MiB)``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def serve(keys: int, ready, stop) -> None:
    from moto.backends import get_backend

    from auditor.emulator import FAKE_CREDENTIALS, Emulator

    os.environ.update(FAKE_CREDENTIALS)
    emu = Emulator()
    s3 = get_backend("s3")["123456789012"]["global"]
    s3.create_bucket("dicom-large", "us-east-1")
    for i in range(keys):
        s3.put_object("dicom-large", f"studies/p{i // 1000:05d}/ct-{i % 1000:04d}.dcm", b"")
    ready.put(emu.endpoint)
    stop.get()
    emu.stop()


def measure(endpoint: str, prefix: str) -> tuple[float, int, float]:
    """Run items-list in a fresh interpreter; (peak RSS MiB, datapoints, seconds)."""
    code = f"""
import io, resource, sys, time
sys.path.insert(0, {str(ROOT)!r})
from auditor.collect import items_list
from auditor.config import AccountConfig
out = open('/dev/null', 'w')
t = time.perf_counter()
n = items_list(AccountConfig(name='b', endpoint_url={endpoint!r}), 'dicom-large', {prefix!r}, out)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, n, time.perf_counter() - t)
"""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    rss, n, secs = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                  check=True).stdout.split()
    return float(rss), int(n), float(secs)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=100_000)
    args = parser.parse_args()
    ready, stop = mp.Queue(), mp.Queue()
    t = time.perf_counter()
    child = mp.Process(target=serve, args=(args.keys, ready, stop), daemon=True)
    child.start()
    endpoint = ready.get(timeout=1800)
    print(f"bucket with {args.keys} keys ready in {time.perf_counter() - t:.0f} s")
    small_prefix = "studies/p00000/"  # 1,000 keys
    base_rss, base_n, _ = measure(endpoint, small_prefix)
    rss, n, secs = measure(endpoint, "studies/")
    stop.put(True)
    child.join(30)
    print(f"{base_n} datapoints: peak RSS {base_rss:.1f} MiB")
    print(f"{n} datapoints: peak RSS {rss:.1f} MiB, {secs:.1f} s ({n / secs:,.0f} keys/s)")
    print(f"growth: {rss - base_rss:+.1f} MiB for {n - base_n} more keys")
    print(f"items_list_memory: keys {n}, peak_rss {rss:.1f} MiB (baseline {base_rss:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
