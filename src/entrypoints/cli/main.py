"""The ``marketplace`` command: serve, db upgrade, seed."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

import structlog

from core.domain.errors import DomainError
from entrypoints.bootstrap.logging import configure_logging
from entrypoints.bootstrap.roles import check_serving, serves_marketplace
from entrypoints.bootstrap.settings import ROLES, Settings

logger = structlog.get_logger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="marketplace", description="Marketplace AI backend")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="apply pending migrations and serve HTTP (HOST, PORT)")
    serve.add_argument("--host", help="bind address (default: HOST or 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port (default: PORT or 3000)")
    serve.add_argument(
        "--seed-if-empty", action="store_true", help="load the demo data when the database has no suppliers"
    )
    serve.add_argument(
        "--role",
        choices=ROLES,
        help="all (default: everything, the local model unless LLM_BASE_URL), api (marketplace, AI search and /v1 "
        "through the engine at LLM_BASE_URL, no local model), engine (only /v1 and health, the local model)",
    )

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply pending migrations")

    seed = commands.add_parser("seed", help="load the demo data (idempotent) or synthetic products")
    seed.add_argument("--reset", action="store_true", help="wipe every table first")
    seed.add_argument("--synthetic", type=int, metavar="N", help="bulk-generate N products for benchmarks")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "role", None):
        os.environ["MARKETPLACE_ROLE"] = args.role  # the env carries it to WEB_CONCURRENCY workers
    try:
        settings = Settings.from_env()
        if args.command == "serve":
            check_serving(settings)
    except DomainError as error:
        print(f"marketplace: configuration error: {error.message}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format, secrets=settings.secrets)
    try:
        if args.command == "serve":
            return _serve(settings, args)
        if args.command == "db":
            return asyncio.run(_db_upgrade(settings))
        if args.command == "seed":
            return asyncio.run(_seed(settings, reset=args.reset, synthetic=args.synthetic))
    except DomainError as error:
        print(f"marketplace: {error.message}", file=sys.stderr)
        return 1
    return 2


async def _db_upgrade(settings: Settings) -> int:
    from entrypoints.bootstrap.database import upgrade_database

    await upgrade_database(settings)
    print("database is up to date")
    return 0


async def _seed(settings: Settings, *, reset: bool, synthetic: int | None) -> int:
    from entrypoints.bootstrap.database import seed_demo_data, seed_synthetic, upgrade_database

    await upgrade_database(settings)
    if synthetic is not None:
        if synthetic < 1:
            print("marketplace: --synthetic needs a positive number", file=sys.stderr)
            return 2
        await seed_synthetic(settings, synthetic, reset=reset)
        print(f"generated {synthetic} synthetic products")
        return 0
    keys = await seed_demo_data(settings, reset=reset)
    print("demo data loaded; demo API keys (public, for trying the API only):")
    for key in keys:
        print(f"  {key.kind:<9} {key.id:>3}  {key.name:<32} {key.api_key}")
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from entrypoints.bootstrap.database import database_is_empty, seed_demo_data, upgrade_database
    from entrypoints.http.app import create_app

    async def prepare() -> None:
        await upgrade_database(settings)
        if args.seed_if_empty and await database_is_empty(settings):
            keys = await seed_demo_data(settings, reset=False)
            logger.info("seed.demo_loaded", keys=len(keys))

    if serves_marketplace(settings):  # an engine needs no database
        asyncio.run(prepare())
    logger.info(
        "serve.starting", role=settings.role, workers=settings.web_concurrency, remote_engine=settings.llm_base_url
    )
    options: dict[str, Any] = {
        "host": args.host or settings.host,
        "port": args.port or settings.port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 10,
    }
    if settings.web_concurrency > 1:
        from entrypoints.bootstrap.observability import prepare_worker_metrics

        # Worker processes import the app themselves; each one holds its own model when it loads one.
        # Their metrics meet in one folder, so that a scrape answered by any worker counts them all.
        if settings.metrics_enabled:
            prepare_worker_metrics(settings.web_concurrency)
        factory = "entrypoints.http.app:create_app_from_env"
        uvicorn.run(factory, factory=True, workers=settings.web_concurrency, **options)
    else:
        uvicorn.run(create_app(settings), workers=1, **options)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
