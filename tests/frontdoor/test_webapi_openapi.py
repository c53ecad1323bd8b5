"""The OpenAPI document lists exactly the Web API Groups routes the front door serves."""

from pathlib import Path

import yaml
from aiohttp import web

from frontdoor.webapi_routes import PREFIX, WebApiRoutes
from tests.support.paths import REPO_ROOT

SPEC = REPO_ROOT / "docs" / "openapi" / "webapi-groups.yaml"


def served_routes() -> set[tuple[str, str]]:
    app = web.Application()
    WebApiRoutes(front=None).register(app)
    routes = set()
    for route in app.router.routes():
        path = route.resource.canonical
        if route.method != "HEAD" and path.startswith(PREFIX):
            routes.add((route.method.lower(), path[len(PREFIX) :]))
    return routes


def documented_routes() -> set[tuple[str, str]]:
    spec = yaml.safe_load(Path(SPEC).read_text())
    methods = {"get", "post", "put", "patch", "delete"}
    return {(method, path) for path, item in spec["paths"].items() for method in item if method in methods}


def test_every_route_is_documented_and_nothing_else():
    assert served_routes() == documented_routes()
