"""Run `marketplace serve` as a real child process on a free port, and read its Prometheus metrics."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.integration.live_server import free_port

ROOT = Path(__file__).resolve().parents[2]
MODEL_CACHE = ROOT / ".model-cache"
# Settings a child must not inherit from the developer's shell.
_ISOLATED = ("DATABASE_URL", "SESSION_STORE", "PERSIST_SESSIONS", "LLM_BASE_URL", "LLM_MODEL", "API_KEY", "PORT")


@dataclass
class ServedProcess:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to close its streams."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=15)


def _health_ok(response: httpx.Response) -> bool:
    return response.status_code == 200


def model_ready(response: httpx.Response) -> bool:
    return response.status_code == 200 and bool(response.json().get("modelReady"))


@contextlib.contextmanager
def serve_process(
    role: str,
    env: dict[str, str],
    *,
    ready: Callable[[httpx.Response], bool] = _health_ok,
    startup_timeout: float = 240.0,
) -> Iterator[ServedProcess]:
    port = free_port()
    child_env = {k: v for k, v in os.environ.items() if k not in _ISOLATED}
    child_env.update({"HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "WARNING", "MARKETPLACE_ROLE": role})
    child_env.update(env)
    log_file = tempfile.NamedTemporaryFile(prefix=f"serve-{role}-{port}-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "entrypoints.cli.main", "serve", "--role", role],
        env=child_env,
        cwd=ROOT,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    served = ServedProcess(f"http://127.0.0.1:{port}", process, Path(log_file.name))
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"`serve --role {role}` exited with {process.returncode}:\n{served.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if ready(httpx.get(f"{served.url}/health", timeout=5)):
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"`serve --role {role}` did not become ready:\n{served.log_tail()}")
            time.sleep(0.2)
        yield served
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        log_file.close()
        with contextlib.suppress(OSError):
            os.unlink(log_file.name)


def engine_env(**changes: str) -> dict[str, str]:
    """A `--role engine` on the embedded model, loaded at start."""
    return {
        "EAGER_LOAD_MODEL": "1",
        "MODEL_CACHE_DIR": str(MODEL_CACHE),
        "MAX_CONTEXT_TOKENS": "2048",
        "MAX_BATCH_SIZE": "8",
        **changes,
    }


def metric(base_url: str, name: str) -> float:
    """The sum of a metric's samples on ``base_url``'s ``/metrics``."""
    response = httpx.get(f"{base_url}/metrics", timeout=10)
    response.raise_for_status()
    total, found = 0.0, False
    for line in response.text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    if not found:
        raise AssertionError(f"{name} is not in {base_url}/metrics")
    return total


def wait_until(condition: Callable[[], bool], *, timeout: float = 30.0, what: str = "the condition") -> None:
    """Poll until ``condition()`` holds (an eventual state, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.1)
