"""What one S3 read costs the scanner itself, without the noise of a whole scan.

Run by hand:  python benchmarks/request_cost.py [--buckets 100] [--cpu]

A bucket's settings are six reads (policy, CORS, encryption, public access block, ownership,
versioning); half the buckets here have a policy and CORS, so the answers mix 200s and the 404s
of absent settings, as in a scan. The reads go, 64 at a time, to a proxy that answers them from
a cache (the emulator is out of the measurement), three ways:

- ``lean``: clients made as the scanner makes them (``auditor.collect.session``);
- ``untouched``: aiobotocore clients with the scanner's settings and none of its savings;
- ``http``: the same GETs through aiohttp alone, unsigned and unparsed: what the HTTP exchange
  costs, the part no client can save.

Each way runs in a fresh interpreter. Under valgrind (when installed; ``--cpu`` skips it) the
figure is instructions per read: the difference between a run over all the buckets and one over
two, so imports and client set-up cancel out. Instruction counts do not move with the machine's
load; CPU time does, by up to a third between runs on a shared machine. With ``--cpu``, or
without valgrind, the figure is CPU milliseconds per read, the best of ``--rounds`` rounds.
Before it, the CPU time of making an account's clients (a scan makes them once per account), with
the data loader the process's sessions share and with one of the account's own.
The last line is ``request_cost: lean L, untouched U, http H (unit)``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

SETTINGS = (("get_bucket_policy", "policy"), ("get_bucket_cors", "cors"), ("get_bucket_encryption", "encryption"),
            ("get_public_access_block", "publicAccessBlock"),
            ("get_bucket_ownership_controls", "ownershipControls"), ("get_bucket_versioning", "versioning"))
WAYS = ("lean", "untouched", "http")
SMALL = 2  # buckets of the run whose instructions are taken off: imports, clients, the first connections


def _bucket(i: int) -> str:
    return f"cost-{i:05d}"


async def _reads(way: str, url: str, buckets: int, rounds: int) -> list[float]:
    """CPU seconds of each round of the six reads of ``buckets`` buckets, read ``way``."""
    import aioboto3
    import aiohttp

    from auditor.collect.calls import Limiter, read_setting
    from auditor.collect.session import AccountSession, client_config
    from auditor.config import AccountConfig, ScanSettings

    names = [_bucket(i) for i in range(buckets)]
    settings = ScanSettings()
    limit = Limiter(settings.concurrency)
    session = aioboto3.Session(region_name="us-east-1")
    acct = AccountSession(AccountConfig(name="cost", endpoint_url=url), session, settings, "us-east-1")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=settings.concurrency)) as http, \
            session.client("s3", endpoint_url=url, config=client_config(settings)) as untouched:
        s3 = await acct.client("s3") if way == "lean" else untouched

        async def get(name: str, query: str) -> None:
            async with limit, http.get(f"{url}/{name}?{query}") as resp:
                await resp.read()

        def one_round() -> list:
            if way == "http":
                return [get(n, query) for n in names for _, query in SETTINGS]
            return [read_setting(op, getattr(s3, op)(Bucket=n), limit) for n in names for op, _ in SETTINGS]

        spent = []
        for _ in range(rounds):
            start = time.process_time()
            await asyncio.gather(*one_round())
            spent.append(time.process_time() - start)
        await acct.aclose()
        return spent


async def _account_setup(accounts: int) -> tuple[float, float]:
    """CPU milliseconds to make one account's five clients (S3, IAM, KMS, STS, S3 Control), with the
    process's shared data loader and with a loader of the account's own, as each session had one."""
    import aioboto3

    from auditor.collect import session as session_mod
    from auditor.config import AccountConfig, ScanSettings

    async def one(name: str) -> None:
        session = aioboto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x", region_name="us-east-1")
        acct = session_mod.AccountSession(AccountConfig(name=name), session, ScanSettings(), "us-east-1")
        for service in ("s3", "iam", "kms", "sts", "s3control"):
            await acct.client(service)
        await acct.aclose()

    await one("warm-up")  # imports
    spent = {}
    for shared in (True, False):
        start = time.process_time()
        for i in range(accounts):
            if not shared:
                session_mod._LOADERS.clear()
            await one(f"account-{i}")
        spent[shared] = (time.process_time() - start) / accounts * 1000
    return spent[True], spent[False]


def _measure(way: str, url: str, buckets: int, rounds: int) -> None:
    from auditor import machine

    with machine.fewer_collections():
        spent = machine.run(_reads(way, url, buckets, rounds))
    print(json.dumps({"cpu": spent}))


def _child(way: str, url: str, buckets: int, rounds: int, valgrind: bool) -> tuple[list[float], int | None]:
    command = [sys.executable, __file__, "--measure", way, "--url", url, "--buckets", str(buckets),
               "--rounds", str(rounds)]
    if valgrind:
        command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"the {way} run failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    found = re.search(r"Collected : (\d+)", done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])["cpu"], int(found.group(1)) if found else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--buckets", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of CPU timing (default: %(default)s)")
    parser.add_argument("--cpu", action="store_true", help="CPU time only, even where valgrind is installed")
    parser.add_argument("--measure", choices=WAYS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        _measure(args.measure, args.url, args.buckets, args.rounds)
        return 0

    import boto3
    from scan_speed import LatencyProxy, emulator

    with emulator() as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        for i in range(args.buckets):
            s3.create_bucket(Bucket=_bucket(i))
            if i % 2:
                s3.put_bucket_policy(Bucket=_bucket(i), Policy=json.dumps({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::258327614892:role/external_s3"},
                     "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{_bucket(i)}/*"}]}))
                s3.put_bucket_cors(Bucket=_bucket(i), CORSConfiguration={"CORSRules": [
                    {"AllowedMethods": ["GET"], "AllowedOrigins": ["https://darwin.v7labs.com"]}]})
        proxy = LatencyProxy(endpoint, 0)
        url = proxy.start()
        _child("untouched", url, args.buckets, 1, valgrind=False)  # fills the proxy's cache from the emulator
        proxy.use_cache = True
        valgrind = not args.cpu and shutil.which("valgrind") is not None
        reads = 6 * (args.buckets - SMALL)
        figures = {}
        for way in WAYS:
            if valgrind:  # the two runs side by side: instructions do not depend on what else runs
                with ThreadPoolExecutor(2) as pool:
                    runs = [pool.submit(_child, way, url, n, 1, True) for n in (SMALL, args.buckets)]
                    (_, small), (_, large) = (run.result() for run in runs)
                assert small is not None and large is not None
                figures[way] = (large - small) / reads / 1e6
                print(f"{way:10} {figures[way]:.2f} M instructions/read")
            else:
                spent, _ = _child(way, url, args.buckets, args.rounds, valgrind=False)
                figures[way] = min(spent) / (6 * args.buckets) * 1000
                print(f"{way:10} {figures[way]:.3f} ms CPU/read (best of {args.rounds}; "
                      f"rounds {', '.join(f'{s / (6 * args.buckets) * 1000:.3f}' for s in spent)})")
        from auditor import machine

        shared, own = machine.run(_account_setup(10))
        print(f"an account's five clients: {shared:.0f} ms CPU with the process's shared data loader, "
              f"{own:.0f} ms with a loader of its own")
        unit, digits = ("M instructions/read", 2) if valgrind else ("ms CPU/read", 3)
        print(f"request_cost: lean {figures['lean']:.{digits}f}, untouched {figures['untouched']:.{digits}f}, "
              f"http {figures['http']:.{digits}f} ({unit})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
