"""The web UI files: plain static serving with an SPA fallback to ``index.html``.

Paths are resolved and must stay inside the static root (symlinks included); anything else is 404.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from aiohttp import web

NO_STORE_SUFFIXES = (".html", ".htm", ".json", ".toml", ".ini", ".xml", ".manifest", ".appcache")


def resolve_inside(root: Path, request_path: str) -> Path | None:
    """The file a URL path names under ``root``, or None if it is outside, hidden or absent."""
    decoded = unquote(request_path)
    if "\0" in decoded or "\\" in decoded:
        return None
    relative = decoded.lstrip("/")
    if any(part in ("..", ".") or part.startswith(".") for part in relative.split("/") if part):
        return None
    candidate = (root / relative).resolve()
    try:
        candidate.relative_to(root)
    except ValueError:
        return None
    return candidate if candidate.is_file() else None


class StaticFiles:
    def __init__(self, root: Path, spa_fallback: bool):
        self._root = root.resolve()
        self._spa_fallback = spa_fallback

    def register(self, app: web.Application) -> None:
        app.router.add_get("/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["tail"] or "index.html"
        found = resolve_inside(self._root, path)
        if found is None and self._spa_fallback and not path.startswith(("func/", "server/", "api/")):
            found = resolve_inside(self._root, "index.html")
        if found is None:
            raise web.HTTPNotFound()
        response = web.FileResponse(found)
        if found.name.endswith(NO_STORE_SUFFIXES):
            response.headers["Cache-Control"] = "no-store"
        return response
