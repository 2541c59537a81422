"""Shared test policy: a test that needs Postgres, Redis or Chromium fails in CI when it is missing,
and is skipped with a visible reason elsewhere."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = bool(os.environ.get("CI"))

# Make `tests.fakes` importable however pytest is invoked.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _missing(message: str, remedy: str) -> None:
    if IN_CI:
        pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)")
    pytest.skip(f"{message}; {remedy}")


def require_service(name: str, host: str, port: int) -> None:
    """Fail (CI) or skip (elsewhere) when ``host:port`` does not answer."""
    if not _reachable(host, port):
        _missing(f"{name} at {host}:{port} is unreachable", "start it to run this test")


def chromium_executable() -> str | None:
    """Debian's chromium (``CHROMIUM_PATH`` overrides); Playwright's own browser download is not used."""
    named = os.environ.get("CHROMIUM_PATH")
    if named:
        return named if os.access(named, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    """Fail (CI) or skip (elsewhere) without Playwright for Python or a Chromium binary."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("Playwright for Python is not installed", "install the dev extras")
    executable = chromium_executable()
    if executable is None:
        _missing("no chromium binary (CHROMIUM_PATH, or chromium on PATH)", "apt-get install chromium to run this test")
    return executable  # type: ignore[return-value]


def require_postgres() -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)


def require_redis() -> None:
    require_service("Redis", "127.0.0.1", 6379)


@pytest.fixture(autouse=True)
def _services_for_markers(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres"):
        require_postgres()
    if request.node.get_closest_marker("redis"):
        require_redis()
    if request.node.get_closest_marker("browser"):
        require_chromium()


def require_native_decode(cache_dir: Path, extra_flags: tuple[str, ...] = ()) -> Path:
    """The native decode step built for this machine: fail (CI) or skip (elsewhere) without a C compiler."""
    from adapters.llm.native_decode import build_library

    library = build_library(cache_dir, extra_flags)
    if library is None:
        _missing("native/decode.c could not be built (no C compiler?)", "install gcc to run this test")
    assert library is not None
    return library
