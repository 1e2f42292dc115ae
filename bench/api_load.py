"""The load driver of bench/api_speed.py: N concurrent httpx clients on one URL for T seconds.

Run in its own process, so that the server's process only serves. Each client
sends the next request as soon as its previous answer is read in full, with the
bearer tokens taken in turn; answers in the first `--warmup` seconds are not
counted. Prints one JSON object: requests, errors, requests/s and latency
percentiles (ms) of the counted window.

    python -m bench.api_load --url http://127.0.0.1:8000/api/invoices?... \
        --token t1 --token t2 --clients 8 --seconds 8 --warmup 2
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time

import httpx


async def drive(url: str, tokens: list[str], clients: int, seconds: float, warmup: float) -> dict:
    turn = itertools.cycle(tokens)
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    began = time.perf_counter()
    counted_from = began + warmup
    until = counted_from + seconds

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while True:
            start = time.perf_counter()
            if start >= until:
                return
            answer = await http.get(url, headers={"Authorization": f"Bearer {next(turn)}"})
            await answer.aread()
            end = time.perf_counter()
            if start >= counted_from and end <= until:
                if answer.status_code == 200:
                    latencies.append(end - start)
                else:
                    errors += 1

    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    latencies.sort()

    def percentile(p: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / seconds,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", action="append", required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args(argv)
    result = asyncio.run(drive(args.url, args.token, args.clients, args.seconds, args.warmup))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
