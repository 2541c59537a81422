"""``docker-compose.yml``: the service, PostgreSQL and Redis with health checks and volumes.

``docker compose config`` validates the file where a Compose client exists; the structure is checked
everywhere.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "docker-compose.yml"


def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    if standalone and subprocess.run([standalone, "version"], capture_output=True).returncode == 0:
        return [standalone]
    return None


def check_structure(config: dict) -> None:
    services = config["services"]
    assert set(services) >= {"app", "postgres", "redis"}
    app = services["app"]
    environment = app["environment"]
    assert environment["SESSION_STORE"] == "redis"
    assert environment["REDIS_URL"].startswith("redis://redis:")
    assert environment["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in environment["DATABASE_URL"]
    for name in ("app", "postgres", "redis"):
        assert services[name]["healthcheck"]["test"], f"{name} has no health check"
    assert "/health/ready" in " ".join(app["healthcheck"]["test"])  # readiness, for dependants and `up --wait`
    assert {dep: spec["condition"] for dep, spec in app["depends_on"].items()} == {
        "postgres": "service_healthy",
        "redis": "service_healthy",
    }
    assert any(":/data" in str(v) or (isinstance(v, dict) and v.get("target") == "/data") for v in app["volumes"])
    assert config["volumes"] and "postgres-data" in config["volumes"]


def test_compose_file_has_the_three_services_with_health_checks_and_volumes() -> None:
    check_structure(yaml.safe_load(COMPOSE_FILE.read_text()))


def test_the_image_health_check_is_liveness() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    healthcheck = dockerfile[dockerfile.index("HEALTHCHECK") :].split("\nCMD [")[0]
    assert "/health'" in healthcheck or '/health"' in healthcheck or "/health\\" in healthcheck
    assert "/health/ready" not in healthcheck


def test_docker_compose_config_accepts_the_file() -> None:
    command = compose_command()
    if command is None:
        pytest.skip("no Docker Compose client here (neither `docker compose` nor `docker-compose`)")
    result = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    check_structure(json.loads(result.stdout))
