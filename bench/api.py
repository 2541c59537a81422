"""Throughput and latency of the API read path on the demo data, as `make run` serves it.

Starts `marketplace serve --seed-if-empty` on a fresh SQLite file (or `--database-url`) on a free port,
then drives it for `--seconds` per route with `--connections` keep-alive HTTP/1.1 connections: with
`wrk` when it is on PATH (as the issue measures), otherwise with a small asyncio client in this process
(like wrk: each connection sends its next request as soon as the previous answer arrived; it costs the
server CPU on a small machine, so its figures are lower). Prints requests/s, p50 and p99 per route,
`GET /health` on the same server as the baseline (the ratio to it means something on a loaded
machine), the ratio to the original project's 205 req/s, and the load average. The last route asks for a
new point on every request, so none of the answers the SQLite catalogue keeps is reused: the search itself.

    python bench/api.py                          # one process (`make run`), 8 connections, 10 s per route
    python bench/api.py --workers 2              # WEB_CONCURRENCY=2 (--role api, Redis streams)
    python bench/api.py --connections 8 --seconds 20
    python bench/api.py --database-url postgresql://postgres@127.0.0.1:5432/bench_api
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROUTES = {
    "search, text+price+nearest": (
        "/api/products/search?q=laptop+gaming&user_lat=-6.2088&user_lon=106.8456&max_price=15000000"
    ),
    "search, text": "/api/products/search?q=laptop",
    "search, category+nearest": (
        "/api/products/search?category=laptop&min_price=5000000&user_lat=-6.2088&user_lon=106.8456"
    ),
    "list by category and price": "/api/products?category=laptop&min_price=5000000&max_price=20000000",
    # A new point for every request ({point}: a latitude of its own): the SQLite catalogue keeps recent answers
    # until the next write, and none of these requests shares one, so this line measures the search itself.
    "category+nearest, all new": (
        "/api/products/search?category=laptop&min_price=5000000&user_lat={point}&user_lon=106.8456"
    ),
}
POINT = "{point}"
BASELINE = ("GET /health (baseline)", "/health")
ORIGINAL_RPS = 205.0  # the original project's search, as issue 13 quotes it
# WEB_CONCURRENCY > 1 is run as docs/deployment.md scales the API: --role api (no model in each worker),
# streams in Redis; the routes measured here never call the engine, so LLM_BASE_URL need not answer.
WORKER_ENV = {"MARKETPLACE_ROLE": "api", "SESSION_STORE": "redis", "LLM_BASE_URL": "http://127.0.0.1:9/v1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _latitude(n: int) -> str:
    """The n-th of 10,000 latitudes near Jakarta (a millionth of a degree apart), as the wrk script has them."""
    return f"{-6.2 - (n % 10_000 + 1) * 1e-6:.6f}"


_points = itertools.count(1)


async def _connection(port: int, path: str, until: float, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    errors = 0
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(request.replace(POINT.encode(), _latitude(next(_points)).encode()))
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
        urllib.request.urlopen(f"http://127.0.0.1:{port}{path.replace(POINT, _latitude(0))}").read()


async def drive(port: int, path: str, connections: int, seconds: float) -> tuple[float, float, float, int]:
    latencies: list[float] = []
    started = time.perf_counter()
    errors = await asyncio.gather(*(_connection(port, path, started + seconds, latencies) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return len(latencies) / elapsed, statistics.median(ordered) * 1000, p99 * 1000, sum(errors)


def _wrk_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def drive_wrk(wrk: str, port: int, path: str, connections: int, seconds: float) -> tuple[float, float, float, int]:
    """wrk's own figures: requests/s, p50 and p99 (ms), and the answers that were not 2xx/3xx."""
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", f"http://127.0.0.1:{port}{path}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if POINT in path:  # the same latitudes as _latitude
            pattern = path.replace(POINT, "%.6f")
            script.write(  # formatted once, at the start: a Lua call per request costs wrk's core little
                "local requests = {}\nfor n = 1, 10000 do\n"
                f"  requests[n] = wrk.format(nil, string.format([[{pattern}]], -6.2 - n * 0.000001))\nend\n"
                "local n = 0\nrequest = function()\n  n = n % 10000 + 1\n  return requests[n]\nend\n"
            )
            script.flush()
            command[1:1] = ["-s", script.name]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _wrk_ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _wrk_ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    failed = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rate, p50, p99, int(failed.group(1)) if failed else 0


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
    parser.add_argument("--workers", type=int, default=1, help="WEB_CONCURRENCY (default 1, as `make run`)")
    parser.add_argument("--rounds", type=int, default=1, help="measure every route this many times")
    parser.add_argument("--python-client", action="store_true", help="the asyncio client even when wrk exists")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-api-"))
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": args.database_url or f"sqlite:///{folder / 'bench.db'}",
        "LOG_LEVEL": "WARNING",
        "SESSIONS_DB_PATH": str(folder / "sessions.db"),
        "WEB_CONCURRENCY": str(args.workers),
    }
    if args.workers > 1:
        env |= WORKER_ENV
    src = Path(__file__).resolve().parents[1] / "src"
    env["PYTHONPATH"] = f"{src}{os.pathsep}{env.get('PYTHONPATH', '')}"
    command = [sys.executable, "-m", "entrypoints.cli.main", "serve", "--seed-if-empty", "--port", str(port)]
    wrk = None if args.python_client else shutil.which("wrk")
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_ready(port, server)
        how = f"WEB_CONCURRENCY={args.workers}" + (" --role api" if args.workers > 1 else " (as `make run`)")
        client = "wrk" if wrk else "the asyncio client"
        print(f"{how}, {args.connections} connections ({client}), {args.seconds:g} s per route, demo data")
        print(f"database: {env['DATABASE_URL']}; {os.cpu_count()} CPUs; load average {_load()} at the start")
        header = f"{'route':<28} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>7} {'/health':>7} {'x 205':>6}"
        print(header + "  load")
        for _ in range(args.rounds):
            baseline = _measure(wrk, port, BASELINE[1], args)
            print(_line(BASELINE[0], baseline, baseline[0]))
            for name, path in ROUTES.items():
                print(_line(name, _measure(wrk, port, path, args), baseline[0]))
        print("targets: >= 2,000 req/s with p99 < 25 ms at 8 connections (x 205: the original project's 205 req/s)")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


def _measure(wrk: str | None, port: int, path: str, args: argparse.Namespace) -> tuple[float, float, float, int]:
    warm_up(port, path)
    if wrk:
        return drive_wrk(wrk, port, path, args.connections, args.seconds)
    return asyncio.run(drive(port, path, args.connections, args.seconds))


def _line(name: str, figures: tuple[float, float, float, int], health_rate: float) -> str:
    rate, p50, p99, errors = figures
    ratio = rate / health_rate if health_rate else 0.0
    return (
        f"{name:<28} {rate:>7.0f} {p50:>7.2f} {p99:>7.2f} {errors:>7} {ratio:>7.2f} {rate / ORIGINAL_RPS:>6.1f}"
        f"  {_load()}"
    )


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    raise SystemExit(main())
