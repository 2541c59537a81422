"""Throughput and latency of the API read path on the demo data, as `make run` serves it.

Starts `marketplace serve --seed-if-empty` on a fresh SQLite file (or `--database-url`) on a free port,
then drives it for `--seconds` per route with `--connections` keep-alive HTTP/1.1 connections from a
small asyncio client in another process (like wrk: each connection sends its next request as soon as
the previous answer arrived). Prints requests/s, p50 and p99 per route.

    python bench/api.py                          # 8 connections, 10 s per route
    python bench/api.py --connections 8 --seconds 20
    python bench/api.py --database-url postgresql://postgres@127.0.0.1:5432/bench_api
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROUTES = {
    "search, text + nearest": (
        "/api/products/search?q=laptop+gaming&user_lat=-6.2088&user_lon=106.8456&max_price=15000000"
    ),
    "search, text": "/api/products/search?q=laptop",
    "list by category and price": "/api/products?category=laptop&min_price=5000000&max_price=20000000",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _connection(port: int, path: str, until: float, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    errors = 0
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
    finally:
        writer.close()
    return errors


def warm_up(port: int, path: str) -> None:
    for _ in range(3):
        urllib.request.urlopen(f"http://127.0.0.1:{port}{path}").read()


async def drive(port: int, path: str, connections: int, seconds: float) -> tuple[float, float, float, int]:
    latencies: list[float] = []
    started = time.perf_counter()
    errors = await asyncio.gather(*(_connection(port, path, started + seconds, latencies) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return len(latencies) / elapsed, statistics.median(ordered) * 1000, p99 * 1000, sum(errors)


def wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("the server did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-api-"))
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": args.database_url or f"sqlite:///{folder / 'bench.db'}",
        "LOG_LEVEL": "WARNING",
        "SESSIONS_DB_PATH": str(folder / "sessions.db"),
    }
    src = Path(__file__).resolve().parents[1] / "src"
    env["PYTHONPATH"] = f"{src}{os.pathsep}{env.get('PYTHONPATH', '')}"
    command = [sys.executable, "-m", "entrypoints.cli.main", "serve", "--seed-if-empty", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_ready(port, server)
        print(f"{args.connections} connections, {args.seconds:g} s per route, demo data, {env['DATABASE_URL']}")
        print(f"{'route':<30} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-200':>8}")
        for name, path in ROUTES.items():
            warm_up(port, path)
            rate, p50, p99, errors = asyncio.run(drive(port, path, args.connections, args.seconds))
            print(f"{name:<30} {rate:>8.0f} {p50:>8.2f} {p99:>8.2f} {errors:>8}")
        print("targets: >= 2,000 req/s with p99 < 25 ms (the original project: 205 req/s)")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
