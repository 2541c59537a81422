"""Serving benchmark: our server with the embedded SmolLM2 against the baselines, in one run.

Measures, with 128-token greedy completions of one long-answer prompt:
- baselines: raw ``model.generate`` at batch 1 and a static batch of 8 (in this process),
  ``transformers serve --continuous-batching`` at 8 concurrent streams (a subprocess), and llama.cpp's
  ``llama-server`` on the same GGUF at 1, 8 and 16 streams when ``LLAMA_SERVER`` names its binary;
- our server (``marketplace serve``, a subprocess): a single stream (output tokens/s, TTFT), and
  8 and 16 concurrent streams (aggregate output tokens/s, p50/p99 TTFT, TPOT and ITL as vLLM defines
  them: TPOT = (latency - TTFT) / (output tokens - 1) per request; ITL = gaps between streamed tokens);
- prefix reuse: TTFT p50 of short questions after an 1,800-token system prompt, each with a system prompt
  never seen before (cold) and all with the same one (warm);
- a long prompt: the longest and median token gap of 4 running streams while a 5,600-token prompt joins;
- the server's resident memory (RSS) idle after loading, and after the runs.
Our server and llama-server run side by side: their runs at 1, 8 and 16 streams take turns, and each
figure is the better of a server's two runs (``alternated``); transformers serve's too.
Then prints the ratios against the targets of the performance issue.

    make bench-serving    # installs the bench extra (`transformers serve` needs it), then runs this script
    .venv/bin/python bench/serving.py [--tokens 128] [--skip-transformers-serve] [--skip-generate]

llama-server (never needed by the tests) is built from the sources vendored in the llama-cpp-python sdist:

    pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 && tar xzf llama_cpp_python-0.3.36.tar.gz
    cd llama_cpp_python-0.3.36/vendor/llama.cpp
    cmake -B build -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF \
        -DLLAMA_BUILD_EXAMPLES=OFF && cmake --build build --target llama-server -j"$(nproc)"
    LLAMA_SERVER=$PWD/build/bin/llama-server .venv/bin/python bench/serving.py

(4 to 10 minutes on 2 cores; it is run as ``llama-server -m <the GGUF> -t <cores> -np 16 -c 32768``: at 8
streams it did the same as with the issue's ``-np 8``, 157-195 tok/s against 162-201 in alternating runs.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "Write a very long essay about the history of Indonesia."
MESSAGES = [{"role": "user", "content": PROMPT}]


@dataclass
class StreamResult:
    tokens: int = 0
    ttft: float = 0.0
    latency: float = 0.0
    gaps: list[float] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def stream_once(client: httpx.AsyncClient, url: str, model: str, tokens: int) -> StreamResult:
    body = {"model": model, "messages": MESSAGES, "max_tokens": tokens, "temperature": 0, "stream": True}
    result = StreamResult()
    start = time.perf_counter()
    last = None
    async with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            for choice in chunk.get("choices", []):
                if (choice.get("delta") or {}).get("content"):
                    now = time.perf_counter()
                    if last is None:
                        result.ttft = now - start
                    else:
                        result.gaps.append(now - last)
                    last = now
                    result.tokens += 1
    result.latency = time.perf_counter() - start
    return result


async def concurrent(url: str, model: str, tokens: int, streams: int) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=600) as client:
        await stream_once(client, url, model, 8)  # warm-up
        start = time.perf_counter()
        results = await asyncio.gather(*[stream_once(client, url, model, tokens) for _ in range(streams)])
        wall = time.perf_counter() - start
    total = sum(r.tokens for r in results)
    tpots = [(r.latency - r.ttft) / (r.tokens - 1) for r in results if r.tokens > 1]
    gaps = [g for r in results for g in r.gaps]
    return {
        "streams": streams,
        "tokens": total,
        "tok_s": total / wall,
        "ttft_p50": percentile([r.ttft for r in results], 50),
        "ttft_p99": percentile([r.ttft for r in results], 99),
        "tpot_p50": percentile(tpots, 50),
        "tpot_p99": percentile(tpots, 99),
        "itl_p50": percentile(gaps, 50),
        "itl_p99": percentile(gaps, 99),
    }


def wait_ready(base: str, process: subprocess.Popen, path: str, timeout: float = 600) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            response = httpx.get(base + path, timeout=2)
            if response.status_code == 200 and (path != "/health" or response.json().get("modelReady")):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError("server did not become ready")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def model_folder() -> Path:
    sys.path.insert(0, str(ROOT / "src"))
    from adapters.llm.model_store import ensure_converted, find_embedded_gguf

    cache = Path(os.environ.get("MODEL_CACHE_DIR", ROOT / ".model-cache"))
    return ensure_converted(find_embedded_gguf(), cache)


def raw_generate(folder: Path, tokens: int) -> dict[str, float]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(os.cpu_count() or 1)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16).eval()
    text = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=False)
    results = {}
    for batch in (1, 8):
        inputs = tokenizer([text] * batch, return_tensors="pt", padding=True, add_special_tokens=False)
        settings = {
            "max_new_tokens": tokens,
            "min_new_tokens": tokens,
            "do_sample": False,
            "pad_token_id": tokenizer.pad_token_id or tokenizer.eos_token_id,
        }
        with torch.inference_mode():
            model.generate(**inputs, **(settings | {"max_new_tokens": 8, "min_new_tokens": 8}))
            start = time.perf_counter()
            output = model.generate(**inputs, **settings)
            wall = time.perf_counter() - start
        produced = (output.shape[1] - inputs["input_ids"].shape[1]) * batch
        results[f"generate_b{batch}"] = produced / wall
    del model
    return results


def filler(tokenizer, tokens: int, seed: int) -> str:  # type: ignore[no-untyped-def]
    """Catalogue-like text of about ``tokens`` tokens; ``seed`` makes it differ from the first token on."""
    lines = [f"Catalogue {seed}."]
    index = 0
    while len(tokenizer.encode(" ".join(lines))) < tokens:
        index += 1
        city = ("Jakarta", "Bandung", "Surabaya", "Medan", "Makassar")[(index + seed) % 5]
        lines.append(
            f"Item {index * 7 + seed}: a {('red', 'blue', 'green')[index % 3]} product sold in {city} "
            f"for Rp {(index * 7919 + seed) % 900 + 100}.000, rated {index % 5 + 1} stars."
        )
    return " ".join(lines)


async def ttft_once(client: httpx.AsyncClient, url: str, model: str, messages: list[dict[str, str]]) -> float:
    body = {"model": model, "messages": messages, "max_tokens": 4, "temperature": 0, "stream": True}
    start = time.perf_counter()
    async with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            data = line[5:].strip() if line.startswith("data:") else ""
            if not data or data == "[DONE]":
                continue
            choices = json.loads(data).get("choices") or [{}]
            if (choices[0].get("delta") or {}).get("content"):  # the first token, not the role chunk
                return time.perf_counter() - start
    return time.perf_counter() - start


async def prefix_reuse(url: str, model: str, tokenizer, rounds: int = 5) -> dict[str, float]:  # type: ignore[no-untyped-def]
    questions = [f"Question {i}: which item is the cheapest in {c}?" for i, c in enumerate(("Jakarta", "Medan") * 5)]
    shared = filler(tokenizer, 1800, 0)
    async with httpx.AsyncClient(timeout=600) as client:
        cold = [
            await ttft_once(
                client,
                url,
                model,
                [
                    {"role": "system", "content": filler(tokenizer, 1800, 1000 + i)},
                    {"role": "user", "content": questions[i]},
                ],
            )
            for i in range(rounds)
        ]
        await ttft_once(client, url, model, [{"role": "system", "content": shared}, {"role": "user", "content": "Hi"}])
        warm = [
            await ttft_once(
                client, url, model, [{"role": "system", "content": shared}, {"role": "user", "content": questions[i]}]
            )
            for i in range(rounds)
        ]
    return {"cold_p50": percentile(cold, 50), "warm_p50": percentile(warm, 50)}


async def long_prompt_join(url: str, model: str, tokenizer) -> dict[str, float]:  # type: ignore[no-untyped-def]
    long_text = filler(tokenizer, 5600, 7)
    async with httpx.AsyncClient(timeout=600) as client:
        running = [asyncio.create_task(stream_once(client, url, model, 200)) for _ in range(4)]
        await asyncio.sleep(3.0)  # the four streams are decoding
        joined = time.perf_counter()
        ttft = await ttft_once(client, url, model, [{"role": "user", "content": long_text + " Summarise."}])
        results = await asyncio.gather(*running)
    gaps = [g for r in results for g in r.gaps]
    return {"max_gap": max(gaps), "median_gap": percentile(gaps, 50), "long_ttft": ttft, "joined_at": joined}


def rss_mb(process: subprocess.Popen) -> float:
    root = psutil.Process(process.pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20


# A schema the model cannot finish early (64 list items), so constrained rows decode as long as free ones.
LONG_SCHEMA = {
    "type": "object",
    "properties": {"notes": {"type": "array", "items": {"type": "string", "maxLength": 40}, "minItems": 64}},
    "required": ["notes"],
}


async def constrained_vs_free(url: str, model: str, tokens: int, eos: int, streams: int = 8) -> dict[str, float]:
    """Output tokens/s of ``streams`` concurrent json_schema requests (each row masked by its own grammar)
    and of as many unconstrained ones, alternated twice, best of each. Both run to ``tokens``: the free
    ones with EOS banned, the constrained ones by a schema they cannot finish sooner."""
    response_format = {"type": "json_schema", "json_schema": {"name": "notes", "schema": LONG_SCHEMA}}

    async def batch(client: httpx.AsyncClient, extra: dict[str, object]) -> float:
        body = {"model": model, "messages": MESSAGES, "max_tokens": tokens, "temperature": 0, **extra}
        start = time.perf_counter()
        replies = await asyncio.gather(*[client.post(url, json=body) for _ in range(streams)])
        wall = time.perf_counter() - start
        return sum(r.raise_for_status().json()["usage"]["completion_tokens"] for r in replies) / wall

    async with httpx.AsyncClient(timeout=600) as client:
        await batch(client, {"response_format": response_format})  # warm-up: compiles the grammar once
        free_body = {"logit_bias": {str(eos): -100}}
        runs = [
            (await batch(client, free_body), await batch(client, {"response_format": response_format}))
            for _ in range(2)
        ]
    free, constrained = max(r[0] for r in runs), max(r[1] for r in runs)
    return {"free_tok_s": free, "constrained_tok_s": constrained, "ratio": constrained / free}


def progress(name: str, figures: dict[str, float]) -> dict[str, float]:
    """Print each figure as it comes (a busy machine makes the whole run long)."""
    listed = ", ".join(f"{key} {value:.3f}" for key, value in figures.items())
    print(f"{name}: {listed}  (load average {os.getloadavg()[0]:.1f})", flush=True)
    return figures


STREAM_COUNTS = {"single": 1, "c8": 8, "c16": 16}


@dataclass(frozen=True)
class Server:
    name: str
    url: str  # its chat completions
    model: str
    process: subprocess.Popen


@contextmanager
def our_server() -> Iterator[Server]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as scratch:
        env = os.environ | {
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "DATABASE_URL": f"sqlite:///{scratch}/bench.db",
            "EAGER_LOAD_MODEL": "1",
            "MAX_BATCH_SIZE": "16",
            "LOG_LEVEL": "WARNING",
            "MODEL_CACHE_DIR": os.environ.get("MODEL_CACHE_DIR", str(ROOT / ".model-cache")),
        }
        process = subprocess.Popen([sys.executable, "-m", "entrypoints.cli.main", "serve"], env=env, cwd=ROOT)
        try:
            wait_ready(base, process, "/health")
            model = httpx.get(base + "/v1/models").json()["data"][0]["id"]
            yield Server("ours", base + "/v1/chat/completions", model, process)
        finally:
            stop(process)


@contextmanager
def llama_server(binary: str) -> Iterator[Server]:
    sys.path.insert(0, str(ROOT / "src"))
    from adapters.llm.model_store import find_embedded_gguf

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        binary,
        "-m",
        str(find_embedded_gguf()),
        "-t",
        str(os.cpu_count() or 1),
        "-np",
        "16",
        "-c",
        "32768",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    env = os.environ | {"LD_LIBRARY_PATH": str(Path(binary).parent)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_ready(base, process, "/v1/models")
        yield Server("llama-server", base + "/v1/chat/completions", "model", process)
    finally:
        stop(process)


def alternated(servers: list[Server], tokens: int) -> dict[str, dict[str, dict[str, float]]]:
    """Every server at 1, 8 and 16 streams, two runs each, taken in turns (A B, then B A) while all of them
    are up, and the faster run of each kept. The same for every server: a server's first batch of a size
    pays its warm-up (llama-server's first 8 streams ran ~15% slower than its second), and this shared
    machine's speed drifts by 20-40% over minutes, which taking turns spreads over every server alike."""
    runs: dict[str, dict[str, list[dict[str, float]]]] = {server.name: {} for server in servers}
    for name, streams in STREAM_COUNTS.items():
        for order in (servers, servers[::-1]):
            for server in order:
                if server.name not in runs:
                    continue
                try:
                    result = asyncio.run(concurrent(server.url, server.model, tokens, streams))
                except Exception as error:  # a baseline's failure is reported, not fatal
                    if server is servers[0]:
                        raise
                    print(f"{server.name} baseline failed: {error}", file=sys.stderr)
                    del runs[server.name]
                    continue
                runs[server.name].setdefault(name, []).append(progress(f"{server.name} {name}", result))
    return {
        server: {name: max(results, key=lambda r: r["tok_s"]) for name, results in by_count.items()}
        for server, by_count in runs.items()
    }


def measure_ours(ours: Server, tokens: int, tokenizer, rounds: int) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    """Prefix reuse, a long prompt joining, and constrained decoding: ours only."""
    return {
        "prefix": progress("ours prefix", asyncio.run(prefix_reuse(ours.url, ours.model, tokenizer, rounds))),
        "long": progress("ours long prompt", asyncio.run(long_prompt_join(ours.url, ours.model, tokenizer))),
        "json": progress(
            "ours c8 json_schema",
            asyncio.run(constrained_vs_free(ours.url, ours.model, tokens, tokenizer.eos_token_id)),
        ),
    }


def serve_transformers(folder: Path, tokens: int) -> dict[str, float] | None:
    from transformers.utils.import_utils import is_serve_available

    if not is_serve_available():
        print("transformers serve baseline skipped: it needs the bench extra (`make bench-serving` installs it)")
        return None
    executable = Path(sys.executable).with_name("transformers")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        str(executable),
        "serve",
        str(folder),
        "--continuous-batching",
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--dtype",
        "bfloat16",
        "--device",
        "cpu",
        "--cb-block-size",
        "32",
        "--cb-num-blocks",
        "512",
        "--cb-max-batch-tokens",
        "512",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_ready(base, process, "/v1/models")
        runs = [asyncio.run(concurrent(base + "/v1/chat/completions", str(folder), tokens, 8)) for _ in range(2)]
        return max(runs, key=lambda r: r["tok_s"])
    except Exception as error:  # reported, not fatal: the other figures still stand
        print(f"transformers serve baseline failed: {error}", file=sys.stderr)
        return None
    finally:
        stop(process)


def print_rows(title: str, runs: dict[str, dict[str, float]]) -> None:
    print(
        f"{title:<14}{'tok/s':>9}{'TTFT p50':>11}{'TTFT p99':>11}{'TPOT p50':>11}{'TPOT p99':>11}"
        f"{'ITL p50':>10}{'ITL p99':>10}"
    )
    for name in ("single", "c8", "c16"):
        r = runs[name]
        print(
            f"  {name:<12}{r['tok_s']:>9.1f}{r['ttft_p50'] * 1e3:>9.0f}ms{r['ttft_p99'] * 1e3:>9.0f}ms"
            f"{r['tpot_p50'] * 1e3:>9.1f}ms{r['tpot_p99'] * 1e3:>9.1f}ms{r['itl_p50'] * 1e3:>8.1f}ms"
            f"{r['itl_p99'] * 1e3:>8.1f}ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--skip-transformers-serve", action="store_true")
    parser.add_argument("--skip-generate", action="store_true")
    parser.add_argument("--prefix-rounds", type=int, default=5, help="cold and warm requests of the prefix figure")
    args = parser.parse_args()
    from transformers import AutoTokenizer

    folder = model_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    load_before = os.getloadavg()
    raw = None if args.skip_generate else raw_generate(folder, args.tokens)
    llama_binary = os.environ.get("LLAMA_SERVER")
    llama: dict[str, dict[str, float]] | None = None
    with ExitStack() as running:
        server = running.enter_context(our_server())
        time.sleep(2)
        idle_rss = rss_mb(server.process)
        print(f"ours: RSS idle after load {idle_rss:.0f} MB  (load average {os.getloadavg()[0]:.1f})", flush=True)
        servers = [server]
        if llama_binary:
            try:
                servers.append(running.enter_context(llama_server(llama_binary)))
            except Exception as error:  # reported, not fatal: the other figures still stand
                print(f"llama-server baseline failed: {error}", file=sys.stderr)
        streams = alternated(servers, args.tokens)
        ours = streams["ours"] | measure_ours(server, args.tokens, tokenizer, args.prefix_rounds)
        ours["rss"] = {"idle": idle_rss, "after": rss_mb(server.process)}
        if "llama-server" in streams:
            llama = streams["llama-server"] | {"rss": {"idle": 0.0, "after": rss_mb(servers[1].process)}}
    baseline_serve = None if args.skip_transformers_serve else serve_transformers(folder, args.tokens)

    print(
        f"\nServing benchmark, SmolLM2-135M-Instruct (embedded Q4_1 GGUF), {os.cpu_count()} CPU cores, "
        f"{args.tokens}-token greedy completions; load average {load_before[0]:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after\n"
    )
    if raw:
        print(f"{'baseline model.generate batch 1':<44}{raw['generate_b1']:>9.1f} tok/s")
        print(f"{'baseline model.generate static batch 8':<44}{raw['generate_b8']:>9.1f} tok/s")
    if baseline_serve:
        print(
            f"{'baseline transformers serve --cb, 8 streams':<44}{baseline_serve['tok_s']:>9.1f} tok/s"
            f"   TTFT p50 {baseline_serve['ttft_p50'] * 1000:.0f} ms"
        )
    print()
    if llama:
        print_rows("llama-server", llama)
    print_rows("ours", ours)
    prefix, long = ours["prefix"], ours["long"]
    print(
        f"\nprefix reuse, 1,800-token system prompt: TTFT p50 cold {prefix['cold_p50'] * 1e3:.0f} ms, "
        f"warm {prefix['warm_p50'] * 1e3:.0f} ms"
    )
    print(
        f"5,600-token prompt joining 4 streams: their longest token gap {long['max_gap'] * 1e3:.0f} ms "
        f"(median {long['median_gap'] * 1e3:.0f} ms), the long prompt's TTFT {long['long_ttft']:.1f} s"
    )
    print(f"RSS ours: {ours['rss']['idle']:.0f} MB idle after load, {ours['rss']['after']:.0f} MB after the runs")
    if llama:
        print(f"RSS llama-server after its runs: {llama['rss']['after']:.0f} MB")

    single, c8 = ours["single"]["tok_s"], ours["c8"]["tok_s"]
    print("\nratios (target)")
    if llama:
        print(f"  single stream / llama-server            {single / llama['single']['tok_s']:5.2f}x  (>= 1.0)")
        print(f"  8 streams / llama-server 8 streams      {c8 / llama['c8']['tok_s']:5.2f}x  (>= 2.0)")
    if baseline_serve:
        print(f"  8 streams / transformers serve --cb     {c8 / baseline_serve['tok_s']:5.2f}x  (>= 2.5)")
    print(f"  warm / cold TTFT, shared system prompt  {prefix['warm_p50'] / prefix['cold_p50']:5.2f}x  (<= 0.35)")
    print(f"  longest gap while a long prompt joins   {long['max_gap'] * 1e3:5.0f} ms (<= 300)")
    print(f"  RSS idle with the model loaded          {ours['rss']['idle']:5.0f} MB (<= 500)")
    if raw:
        print(f"  single stream / generate batch 1        {single / raw['generate_b1']:5.2f}x  (reference)")
        print(f"  8 streams / generate static batch 8     {c8 / raw['generate_b8']:5.2f}x  (reference)")
    print(f"  8 streams / our single stream           {c8 / single:5.2f}x  (reference)")
    print(f"  8 json_schema streams / 8 free streams  {ours['json']['ratio']:5.2f}x  (grammar mask cost)")


if __name__ == "__main__":
    main()
