"""How fast a scan of many buckets is, measured against the latency it cannot avoid.

Run by hand:  python benchmarks/scan_speed.py [--buckets 1000] [--delay-ms 50] [--concurrency 64]

A child process runs the emulator (moto) and a realistic estate is created in it. A small
asyncio proxy in front adds a fixed delay to every request (like a real region) and counts
requests by API. moto serves only ~170 requests/s on two cores, which would hide the
scanner's own speed, so the proxy answers repeated GET/HEAD requests from a cache filled by a
warm-up scan, and answers ListBuckets as AWS does, with each bucket's BucketRegion (taken
from the emulator's own GetBucketLocation answers in the warm-up; the emulator omits it). The
timed scan, in a fresh process, then measures the scanner: requests per
bucket by API, wall time against the latency bound (requests x delay / concurrency), CPU
seconds per request and peak RSS. The last line is
``scan_speed: buckets N, requests/bucket R, wall W s, bound B s, ratio Q, peak_rss M MiB``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
S3_BUCKET_APIS = ("location", "policy", "cors", "encryption", "publicAccessBlock", "ownershipControls",
                  "versioning", "list-type", "HeadObject", "GetObject")


# ----------------------------------------------------------------------------- the estate


def serve(ready, stop) -> None:
    from auditor.emulator import FAKE_CREDENTIALS, Emulator

    os.environ.update(FAKE_CREDENTIALS)
    emu = Emulator()
    emu.reset()  # a forked child starts with a copy of its parent's emulator state (in a test run)
    ready.put(emu.endpoint)
    stop.get()
    emu.stop()


@contextlib.contextmanager
def emulator() -> Iterator[str]:
    """The emulator, running in a child process until the block ends: its endpoint. The fake
    credentials go into this process's environment."""
    os.environ.update(ENV)
    ready, stop = mp.Queue(), mp.Queue()
    child = mp.Process(target=serve, args=(ready, stop), daemon=True)
    child.start()
    try:
        yield ready.get(timeout=120)
    finally:
        stop.put(True)
        child.join(30)


POPULATE = ROOT.parent / "shared" / "bench" / "populate.py"


def seed(endpoint: str, n: int, populate: Path) -> dict:
    """N buckets of the realistic mix (cross-account grants, public policies, TLS-only denies,
    CORS, SSE-S3/SSE-KMS/aws-s3 keys, block public access, ownership controls, objects and
    .mrxs slides, access points, IAM users and roles), made by the shared population script so
    that every scanner measured runs on the same estate. Returns its summary line."""
    done = subprocess.run([sys.executable, str(populate), "--endpoint", endpoint, "--buckets", str(n)],
                          env={**os.environ, **ENV}, capture_output=True, text=True)
    if done.returncode not in (0, 1):  # 1: some calls the emulator does not support, listed on stderr
        sys.exit(f"populate.py failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    for line in done.stderr.strip().splitlines()[:5]:
        print(f"  populate: {line}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- the latency proxy


class LatencyProxy:
    """Adds ``delay`` to every request; answers repeated GET/HEAD from a cache; counts by API."""

    def __init__(self, upstream: str, delay: float):
        self.upstream, self.delay = upstream, delay
        self.cache: dict[tuple, tuple[int, dict, bytes]] = {}
        self.seen: Counter = Counter()
        self.use_cache = False
        self.regions: dict[str, str] = {}  # bucket -> region, as GetBucketLocation answered in the warm-up

    def start(self) -> str:
        ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait(30)
        return self.url

    def _run(self, ready: threading.Event) -> None:
        import aiohttp
        from aiohttp import web

        async def setup() -> None:
            self.session = aiohttp.ClientSession(auto_decompress=False,
                                                 connector=aiohttp.TCPConnector(limit=32))
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", self.handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
            await site.start()
            self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
            ready.set()

        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(setup())
        self.loop.run_forever()

    @staticmethod
    def api(request, body: bytes) -> str:
        if request.headers.get("X-Amz-Target"):
            return "kms:" + request.headers["X-Amz-Target"].split(".")[-1]
        if body.startswith(b"Action="):
            return body.split(b"&", 1)[0][7:].decode()
        if request.path.startswith("/v20180820"):
            return "GetAccountPublicAccessBlock"
        for sub in S3_BUCKET_APIS[:8]:
            if sub in request.query:
                return sub
        if request.path.strip("/").count("/") >= 1:
            return "HeadObject" if request.method == "HEAD" else "GetObject"
        return "ListBuckets" if request.path == "/" else "bucket-other"

    async def handle(self, request):
        from aiohttp import web

        body = await request.read()
        self.seen[self.api(request, body)] += 1
        await asyncio.sleep(self.delay)
        key = (request.method, request.path_qs, request.headers.get("Range"))
        if self.use_cache and request.method in ("GET", "HEAD") and key in self.cache:
            status, headers, data = self.cache[key]
            if status == 200 and request.path == "/" and self.regions:
                data = self.with_bucket_region(data)
            return web.Response(status=status, body=data if request.method == "GET" else None, headers=headers)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with self.session.request(request.method, self.upstream + request.path_qs, data=body,
                                        headers=headers, allow_redirects=False) as resp:
            data = await resp.read()
            out = {k: v for k, v in resp.headers.items()
                   if k.lower() not in ("content-length", "transfer-encoding", "content-encoding", "connection")}
        if request.method in ("GET", "HEAD"):
            self.cache[key] = (resp.status, out, data)
        if resp.status == 200 and "location" in request.query:
            m = re.search(rb"<LocationConstraint[^>]*>([^<]*)</LocationConstraint>", data)
            self.regions[request.path.strip("/").split("/")[0]] = (m.group(1).decode() if m else "") or "us-east-1"
        if resp.status == 200 and request.path == "/" and self.use_cache and self.regions:
            data = self.with_bucket_region(data)
        return web.Response(status=resp.status, body=data if request.method != "HEAD" else None, headers=out)

    def with_bucket_region(self, xml: bytes) -> bytes:
        """ListBuckets as AWS answers it: each bucket with its BucketRegion (S3 API reference,
        ListBuckets; the emulator omits the element). Regions come from the emulator's own
        GetBucketLocation answers in the warm-up scan."""
        def add(m: re.Match) -> bytes:
            region = self.regions.get(m.group(1).decode())
            return m.group(0) + (f"<BucketRegion>{region}</BucketRegion>".encode() if region else b"")
        return re.sub(rb"<Name>([^<]+)</Name>", add, xml)


# ----------------------------------------------------------------------------- the scan


def config_text(url: str, concurrency: int, workers: int = 0) -> str:
    """No [[integrations]]: vendors are inferred from the bucket policies, as on a first scan."""
    scan = f"concurrency = {concurrency}\n" + (f"workers = {workers}\n" if workers else "")
    return f'[scan]\n{scan}\n[[accounts]]\nname = "bench"\nendpoint_url = "{url}"\n'



def timed_scan(config_path: Path, profile: Path | None = None, save: Path | None = None) -> dict:
    """Collect and evaluate in a fresh interpreter: wall and CPU time, peak RSS, bucket count.
    With ``profile``, collection runs under cProfile and the statistics are written there
    (evaluation's to ``profile.evaluate``, the reports' to ``profile.reports``). With ``save``, the
    snapshot is written there once everything is measured (to evaluate it again offline)."""
    code = f"""
import json, resource, sys, time
sys.path.insert(0, {str(ROOT)!r})
from auditor.config import load_config
from auditor.collect import collect
from auditor.rulepack import load_packs
config = load_config({str(config_path)!r})
packs = load_packs()
t0, c0 = time.perf_counter(), time.process_time()
if {str(profile) if profile else ""!r}:
    import cProfile
    prof = cProfile.Profile()
    snap = prof.runcall(collect, config)
    prof.dump_stats({str(profile)!r})
else:
    snap = collect(config)
t1, c1 = time.perf_counter(), time.process_time()
children = resource.getrusage(resource.RUSAGE_CHILDREN)
c1 += children.ru_utime + children.ru_stime  # worker processes, ended with the collection
collect_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def rss_now():
    with open("/proc/self/status") as fh:
        return next((int(line.split()[1]) / 1024 for line in fh if line.startswith("VmRSS")), 0.0)
collect_now = rss_now()
from auditor.scan import evaluate_snapshot
import tempfile
from pathlib import Path
from auditor.report.csv import render_csv
from auditor.report.html import render_html
from auditor.report.json import render_json
from auditor.report.sarif import render_sarif
def reports(result):
    with tempfile.TemporaryDirectory() as out:
        for render in (render_json, render_csv, render_html, render_sarif):
            render(result, Path(out))
if {str(profile) if profile else ""!r}:
    prof = cProfile.Profile()
    result = prof.runcall(evaluate_snapshot, snap, packs, workers=config.scan.workers)
    t2 = time.perf_counter()
    evaluate_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    prof.dump_stats({str(profile) + ".evaluate" if profile else ""!r})
    prof = cProfile.Profile()
    prof.runcall(reports, result)
    prof.dump_stats({str(profile) + ".reports" if profile else ""!r})
else:
    result = evaluate_snapshot(snap, packs, workers=config.scan.workers)
    t2 = time.perf_counter()
    evaluate_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    reports(result)
t3 = time.perf_counter()
measured = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
evaluate_children = resource.getrusage(resource.RUSAGE_CHILDREN)  # evaluation's worker processes, ended by now
if {str(save) if save else ""!r}:
    from auditor.snapshot import save_snapshot
    save_snapshot(snap, Path({str(save) if save else ""!r}))
print(json.dumps({{"wall": t1 - t0, "cpu": c1 - c0, "evaluate": t2 - t1, "reports": t3 - t2,
                  "findings": len(result.findings),
                  "buckets": sum(len(a.buckets) for a in snap.accounts),
                  "errors": sum(len(b.errors) for a in snap.accounts for b in a.buckets),
                  "collect_rss_mib": collect_rss, "collect_now_mib": collect_now,
                  "evaluate_rss_mib": evaluate_rss,
                  "children_rss_mib": children.ru_maxrss / 1024,
                  "evaluate_children_rss_mib": evaluate_children.ru_maxrss / 1024,
                  "rss_mib": measured}}))
"""
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **ENV}, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"the scan failed ({done.returncode}): {done.stderr.strip()[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(buckets: int, delay_ms: float, concurrency: int, workdir: Path, populate: Path,
        profile: Path | None = None, workers: int = 0, save: Path | None = None) -> dict:
    with emulator() as endpoint:
        t = time.perf_counter()
        made = seed(endpoint, buckets, populate)
        print(f"created {buckets} buckets (+{len(made.get('extra_buckets', []))} extra, "
              f"{made.get('bucket_api_calls')} calls, {made.get('error_count')} refused by the emulator) "
              f"in {time.perf_counter() - t:.0f} s")
        proxy = LatencyProxy(endpoint, delay_ms / 1000)
        url = proxy.start()
        config = workdir / "bench.toml"
        config.write_text(config_text(url, concurrency, workers))
        warm = timed_scan(config)  # fills the cache from moto
        print(f"warm-up scan: {warm['wall']:.1f} s (moto-bound)")
        proxy.seen.clear()
        proxy.use_cache = True
        result = timed_scan(config, profile, save)
        result["requests"] = dict(proxy.seen)
        return result


def report(result: dict, buckets: int, delay_ms: float, concurrency: int) -> str:
    seen = Counter(result["requests"])
    s3_apis = {k: v for k, v in seen.items() if k in S3_BUCKET_APIS or k == "bucket-other"}
    account = {k: v for k, v in seen.items() if k not in s3_apis}
    total = sum(seen.values())
    per_bucket = sum(s3_apis.values()) / max(1, buckets)
    bound = total * delay_ms / 1000 / concurrency
    ratio = result["wall"] / bound if bound else float("inf")
    print(f"\nS3 requests per bucket, by API ({buckets} buckets):")
    for api, n in sorted(s3_apis.items(), key=lambda kv: -kv[1]):
        print(f"  {api:<22} {n / buckets:6.2f}  ({n})")
    print("account-level requests (IAM, KMS, STS, S3 Control, ListBuckets):")
    for api, n in sorted(account.items(), key=lambda kv: -kv[1]):
        print(f"  {api:<30} {n}")
    print(f"\nrequests: {total} · wall {result['wall']:.2f} s · latency bound {bound:.2f} s "
          f"({total} x {delay_ms:g} ms / {concurrency}) · ratio {ratio:.2f}")
    print(f"CPU {result['cpu']:.2f} s (worker processes included) = {result['cpu'] / max(1, total) * 1000:.2f} ms/request · "
          f"evaluate {result['evaluate']:.2f} s for {result['findings']} findings · reports {result['reports']:.2f} s")
    end_to_end = result["wall"] + result["evaluate"] + result["reports"]
    print(f"end to end (collect, evaluate, write all four reports): {end_to_end:.2f} s = "
          f"{end_to_end / bound if bound else float('inf'):.2f}x the latency bound")
    print(f"peak RSS {result['rss_mib']:.0f} MiB in the scanning process ({result['collect_rss_mib']:.0f} MiB after "
          f"collection, {result['collect_now_mib']:.0f} MiB of it still in use; {result['evaluate_rss_mib']:.0f} MiB "
          f"after evaluation), {result['children_rss_mib']:.0f} MiB in the largest collecting worker process, "
          f"{result['evaluate_children_rss_mib']:.0f} MiB in the largest worker process of all · "
          f"failed calls recorded {result['errors']}")
    probes = seen.get("HeadObject", 0) + seen.get("GetObject", 0) + max(0, seen.get("list-type", 0) - buckets)
    base = (sum(s3_apis.values()) - probes) / max(1, buckets)
    print(f"S3 requests/bucket: {per_bucket:.2f} in all; {base:.2f} for the bucket settings and key sample, "
          f"plus {probes} content probe(s) on vendor buckets"
          + (" (GetBucketLocation is skipped where ListBuckets returns BucketRegion, as AWS does; the emulator does not)"
             if seen.get("location") else " (ListBuckets carried each bucket's BucketRegion, as on AWS)"))
    targets = [("S3 requests/bucket <= 8 for bucket settings and sample", base <= 8),
               ("wall <= 1.25x latency bound", ratio <= 1.25),
               ("scanner CPU <= 0.7 ms/request", result["cpu"] / max(1, total) * 1000 <= 0.7),
               (f"peak RSS <= 300 MiB (at {buckets} buckets)", result["rss_mib"] <= 300)]
    for text, ok in targets:
        print(f"  {'OK    ' if ok else 'MISSED'} {text}")
    return (f"scan_speed: buckets {buckets}, requests/bucket {per_bucket:.2f}, wall {result['wall']:.2f} s, "
            f"bound {bound:.2f} s, ratio {ratio:.2f}, peak_rss {result['rss_mib']:.0f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--buckets", type=int, default=1000)
    parser.add_argument("--delay-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--populate", type=Path, default=POPULATE,
                        help="the shared population script (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=0,
                        help="[scan] workers for the timed scan (default: one process per core)")
    parser.add_argument("--profile", type=Path, help="write cProfile statistics of the timed collection here (of evaluation to "
                             "PATH.evaluate, of the reports to PATH.reports)")
    parser.add_argument("--save-snapshot", type=Path, metavar="FILE",
                        help="write the timed scan's snapshot to FILE once it is measured (for `auditor scan "
                             "--from-snapshot`)")
    args = parser.parse_args()
    if not args.populate.is_file():
        parser.error(f"--populate: {args.populate} not found; pass the path of populate.py")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.buckets, args.delay_ms, args.concurrency, Path(tmp), args.populate, args.profile,
                     args.workers, args.save_snapshot)
    print(report(result, args.buckets, args.delay_ms, args.concurrency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
