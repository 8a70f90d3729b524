"""`/openapi.json` and Swagger UI at `/documentation`, from the swagger-ui-py package (no CDN)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from swagger_ui import api_doc

from server.http import openapi
from server.http.responses import json_response
from server.http.routing import ENDPOINTS

OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/documentation"
OPENAPI = web.AppKey("openapi", dict[str, Any])


async def openapi_json(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI])


def setup(app: web.Application) -> None:
    """Call after every router is registered: the document is built once, from them."""
    app[OPENAPI] = openapi.build(app[ENDPOINTS], title="Streamhub API", version="1.0.0")
    app.router.add_get(OPENAPI_PATH, openapi_json)
    # Swagger UI asks for the document under its own prefix (swagger-ui-py resolves
    # `config_rel_url` against `url_prefix`): served there too, so the page loads.
    app.router.add_get(DOCS_PATH + OPENAPI_PATH, openapi_json)
    api_doc(app, config_rel_url=OPENAPI_PATH, url_prefix=DOCS_PATH, title="Streamhub API")
