"""The API reference: Swagger UI at ``/docs`` from assets served by the service itself (no CDN).

The assets come from the ``swagger-ui-bundle-v2`` package (Swagger UI's own dist folder), so ``/docs``
works offline and in an air-gapped deployment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, SwaggerRenderPlugin, YamlRenderPlugin
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

DOCS_ASSETS_PATH = "/docs/assets"


class OfflineSwaggerRenderPlugin(SwaggerRenderPlugin):
    """Swagger UI from ``/docs/assets``, with the online spec validator (another host) turned off."""

    def __init__(self, path: str = "/docs") -> None:
        super().__init__(
            js_url=f"{DOCS_ASSETS_PATH}/swagger-ui-bundle.js",
            css_url=f"{DOCS_ASSETS_PATH}/swagger-ui.css",
            standalone_preset_js_url=f"{DOCS_ASSETS_PATH}/swagger-ui-standalone-preset.js",
            path=path,
            favicon=f"<link rel='icon' type='image/png' href='{DOCS_ASSETS_PATH}/favicon-32x32.png'>",
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = openapi_schema["info"]["title"]
        head = f"""<head>
    <title>{title}</title>
    {self.favicon}
    <meta charset="utf-8"/>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <link href="{self.css_url}" rel="stylesheet">
    <script src="{self.js_url}"></script>
    <script src="{self.standalone_preset_js_url}"></script>
    {self.style}
  </head>"""
        body = b"".join(
            [
                b"""<body>
    <div id="swagger-container"></div>
    <script>
      window.ui = SwaggerUIBundle({
        spec: """,
                self.render_json(request, openapi_schema),
                b""",
        dom_id: "#swagger-container",
        validatorUrl: null,
        deepLinking: true,
        showExtensions: true,
        showCommonExtensions: true,
        presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
      });
    </script>
  </body>""",
            ]
        )
        return b"".join([b"<!DOCTYPE html>\n<html>\n  ", head.encode(), b"\n  ", body, b"\n</html>\n"])


def openapi_config(*first: OpenAPIRenderPlugin) -> OpenAPIConfig:
    """The schema and its pages; ``first`` plugins come before Swagger (the first one is served at ``/``)."""
    return OpenAPIConfig(
        title="Marketplace AI backend",
        version="0.1.0",
        description=(
            "OpenAI-compatible inference, marketplace REST API and AI product search for an Indonesian marketplace."
        ),
        path="/",
        render_plugins=[
            *first,
            OfflineSwaggerRenderPlugin(path="/docs"),
            JsonRenderPlugin(path="/openapi.json"),
            YamlRenderPlugin(path="/openapi.yaml"),
        ],
    )


def docs_assets_router() -> Router:
    return create_static_files_router(
        path=DOCS_ASSETS_PATH,
        directories=[Path(str(swagger_ui_path))],
        name="docs-assets",
        cache_control=CacheControlHeader(max_age=86400, public=True),
        include_in_schema=False,
    )
