"""The parity scenario through the Python binding: writes where the
requests went, as JSON, for comparison with the same run through the
other languages (``cargo run -p mesh-tests --bin parity -- --python
bindings/python/tests/parity_runner.py`` starts the backends and compares).

    python parity_runner.py --config order-service.yaml --out python.json
        [--requests 2000] [--concurrency 8] [--mode threads|asyncio]

(The Go runner's single-dash flags, ``-config`` ..., are accepted too.)

Request i is ``GET http://order-service/orders/<i>``, with ``x-canary:
always`` when i % 10 == 0. The backends answer with their name. Failed
requests are counted under their mesh kind, non-200 responses under their
status, as the Rust and Go runners count them. ``threads`` sends from
``concurrency`` threads through ``Client.request``; ``asyncio`` keeps
``concurrency`` ``Client.arequest`` calls in flight on one event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Tuple

from proxyless_mesh import Client, MeshError

Result = Tuple[bool, str, str]  # canary, backend (a 200's body), failure


def request_of(i: int) -> Tuple[str, dict]:
    headers = {"x-canary": "always"} if i % 10 == 0 else {}
    return f"http://order-service/orders/{i}", headers


def outcome(i: int, response=None, error: MeshError = None) -> Result:
    if error is not None:
        return i % 10 == 0, "", error.kind
    if response.status != 200:
        return i % 10 == 0, "", str(response.status)
    return i % 10 == 0, response.text(), ""


def run_threads(client: Client, requests: int, concurrency: int) -> list:
    def send(i: int) -> Result:
        url, headers = request_of(i)
        try:
            return outcome(i, client.request("GET", url, headers=headers))
        except MeshError as e:
            return outcome(i, error=e)

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(send, range(requests)))


def run_asyncio(client: Client, requests: int, concurrency: int) -> list:
    async def main() -> list:
        slots = asyncio.Semaphore(concurrency)

        async def send(i: int) -> Result:
            url, headers = request_of(i)
            async with slots:
                try:
                    return outcome(i, await client.arequest("GET", url, headers=headers))
                except MeshError as e:
                    return outcome(i, error=e)

        return await asyncio.gather(*(send(i) for i in range(requests)))

    return asyncio.run(main())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", "-config", required=True)
    parser.add_argument("--out", "-out", required=True)
    parser.add_argument("--requests", "-requests", type=int, default=2000)
    parser.add_argument("--concurrency", "-concurrency", type=int, default=8)
    parser.add_argument("--mode", choices=("threads", "asyncio"), default="threads")
    args = parser.parse_args()
    if args.requests < 0 or args.concurrency < 1:
        parser.error("--requests must be ≥ 0 and --concurrency ≥ 1")

    with Client(config_file=args.config) as client:
        runner = run_threads if args.mode == "threads" else run_asyncio
        results = runner(client, args.requests, args.concurrency)

    report = {
        "language": "python" if args.mode == "threads" else "py-async",
        "requests": args.requests,
        "ok": 0,
        "errors": {},
        "backends": {"v1-a": 0, "v1-b": 0, "v2": 0},
        "canary": {"sent": 0, "on_v2": 0},
    }
    for canary, backend, failure in results:
        report["canary"]["sent"] += canary
        if failure:
            report["errors"][failure] = report["errors"].get(failure, 0) + 1
            continue
        report["ok"] += 1
        report["backends"][backend] = report["backends"].get(backend, 0) + 1
        report["canary"]["on_v2"] += canary and backend == "v2"
    with open(args.out, "w") as out:
        json.dump(report, out, indent=2)
        out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
