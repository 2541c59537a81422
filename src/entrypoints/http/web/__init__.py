"""The marketplace web page: ``/`` serves the page, ``/web/*`` its modules and styles.

The page is plain ES modules and CSS (no build step) and talks only to the public API, like any other
client. Litestar's OpenAPI router owns ``/`` when the schema lives at the root, so the page is served
by a render plugin that is first in the list (the one Litestar puts at the root); Swagger stays at ``/docs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.static_files import create_static_files_router

STATIC_DIR = Path(__file__).parent / "static"
ASSETS_PATH = "/web"


class MarketplacePage(OpenAPIRenderPlugin):
    """Serves ``static/index.html`` at the schema root (``/``)."""

    def __init__(self) -> None:
        super().__init__(path="/")
        self._html = (STATIC_DIR / "index.html").read_bytes()

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return self._html


def web_assets_router():  # type: ignore[no-untyped-def]
    return create_static_files_router(
        path=ASSETS_PATH, directories=[STATIC_DIR], include_in_schema=False, name="web-assets"
    )
