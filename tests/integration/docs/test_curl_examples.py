"""Every curl example of the seed's README, our README and docs/api.md runs unchanged against the real
app (demo data seeded, as ``make run`` does; the fake model stands in for the real one).

The commands run through bash exactly as written; a ``curl`` shim first on ``PATH`` only points
``localhost:3000`` (and the seed's deploy hosts) at the test server and reports each status code.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from entrypoints.bootstrap.container import build_container
from entrypoints.bootstrap.database import seed_demo_data
from entrypoints.bootstrap.settings import Settings
from entrypoints.http.app import create_app
from tests.fakes.language_model import FakeLanguageModel
from tests.integration.live_server import live_server
from tests.integration.openai.conftest import FakeModelProvider

ROOT = Path(__file__).resolve().parents[3]
SEED_README = next(Path("/work/shared/seed").glob("000_*.txt"), None) if Path("/work/shared/seed").exists() else None
ADMIN = "docs-admin-key"
# Examples that cannot run here, with the reason.
NOT_HERE = {
    "curl -Method": "PowerShell's Invoke-WebRequest alias, not curl",
    "/ktp-ocr/": "the seed's KTP OCR endpoint needs its vision model; this service serves a text-only model",
}
# Examples whose answer may rightly be other than 2xx: run one after the other, a cancel comes after its
# stream has ended (a 404 naming the session; the seed even cancels mysession123 before starting it).
EXPECTED = {"/v1/cancel/": {200, 404}}

SHIM = r"""#!/usr/bin/env bash
args=()
for arg in "$@"; do
  arg="${arg//http:\/\/localhost:3000/$BASE}"
  arg="${arg//localhost:3000/$BASE}"
  arg="${arg//https:\/\/YOUR-SERVICE.onrender.com/$BASE}"
  arg="${arg//https:\/\/YOUR-SPACE-Subdomain.hf.space/$BASE}"
  args+=("$arg")
done
exec "$REAL_CURL" --max-time 60 --write-out '%{stderr}\nstatus=%{http_code}\n' "${args[@]}"
"""


def markdown_commands(path: Path) -> list[str]:
    """The curl commands of a markdown file's ```bash blocks (continuations and multi-line quotes joined)."""
    commands: list[str] = []
    for block in re.findall(r"```(?:bash|sh|shell)\n(.*?)```", path.read_text(), re.S):
        pending = ""
        for line in block.splitlines():
            pending = f"{pending}\n{line}" if pending else line
            if pending.rstrip().endswith("\\"):
                continue
            try:
                words = shlex.split(pending, comments=True)
            except ValueError:  # an open quote: the command goes on
                continue
            if words and words[0] == "curl":
                commands.append(pending)
            pending = ""
    return commands


def seed_commands(path: Path) -> list[str]:
    """The seed's curl lines (Windows CMD ``^`` and POSIX ``\\`` continuations joined)."""
    commands: list[str] = []
    lines = path.read_text().splitlines()
    for index, line in enumerate(lines):
        if not line.strip().startswith("curl"):
            continue
        command = line.strip()
        follow = index
        while command.endswith(("^", "\\")):
            follow += 1
            command = command[:-1].rstrip() + " " + lines[follow].strip()
        commands.append(command)
    return commands


def _documents() -> list[tuple[str, Callable[[], list[str]]]]:
    docs: list[tuple[str, Callable[[], list[str]]]] = [
        ("README.md", lambda: markdown_commands(ROOT / "README.md")),
        ("docs/api.md", lambda: markdown_commands(ROOT / "docs" / "api.md")),
    ]
    if SEED_README is not None:
        docs.insert(0, ("seed README", lambda: seed_commands(SEED_README)))
    return docs


def test_the_documents_hold_the_examples_we_walk() -> None:
    walked = {name: read() for name, read in _documents()}
    assert len(walked["README.md"]) >= 3 and len(walked["docs/api.md"]) >= 25
    if SEED_README is not None:
        seed = walked["seed README"]
        assert any('"model\\":\\"qwen-local\\"' in c for c in seed) and any("Last-Event-ID" in c for c in seed)


@pytest.mark.parametrize("document", [name for name, _ in _documents()])
def test_every_curl_example_runs_unchanged(
    document: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_curl = shutil.which("curl")
    if real_curl is None:
        pytest.fail("curl is needed to walk the curl examples") if os.environ.get("CI") else pytest.skip("no curl")
    commands = dict(_documents())[document]()
    asyncio.run(seed_demo_data(Settings(database_url=database_url), reset=False))
    settings = Settings(
        database_url=database_url,
        admin_api_key=ADMIN,
        model_cache_dir=tmp_path / "models",
        sessions_db_path=str(tmp_path / "sessions.db"),
    )
    model = FakeLanguageModel(
        lambda r: "Laptop HP Pavilion Gaming cocok untuk Anda. " + " ".join(f"w{i}" for i in range(60)),
        model_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        context_length=8192,
    )
    shim_dir = tmp_path / "bin"
    shim_dir.mkdir()
    (shim_dir / "curl").write_text(SHIM)
    (shim_dir / "curl").chmod(0o755)
    with live_server(create_app(settings, build_container(settings, FakeModelProvider(model)))) as base:
        env = os.environ | {
            "PATH": f"{shim_dir}:{os.environ['PATH']}",
            "REAL_CURL": real_curl,
            "BASE": base,
            "ADMIN_API_KEY": ADMIN,
        }
        problems = []
        walked = 0
        for command in commands:
            if any(marker in command for marker in NOT_HERE):
                continue
            walked += 1
            done = subprocess.run(
                ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=90, cwd=tmp_path
            )
            statuses = [int(s) for s in re.findall(r"status=(\d{3})", done.stderr)]
            allowed = next((codes for marker, codes in EXPECTED.items() if marker in command), None)
            ok = bool(statuses) and all((s in allowed) if allowed is not None else 200 <= s < 300 for s in statuses)
            if not ok:
                problems.append(f"{command}\n  -> {statuses or done.stderr[-300:]}\n  {done.stdout[:300]}")
    assert walked >= 3
    assert not problems, "\n\n".join(problems)
