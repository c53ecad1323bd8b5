"""The web UI files: SPA mode (unknown routes get ``index.html``) or plain static mode.

Every response carries the cache rule of its path (``static_rules``), an ETag and Last-Modified
(conditional requests get 304), and a precompressed ``.br``/``.gz`` sibling when one exists and the
browser accepts it.  Paths must stay inside the root, symlinks included; anything else is 404.

A missing file is answered by what asked for it (``static_rules.request_kind``): a page load gets
the app shell in SPA mode (as Backend.AI does: the Web UI shows its own not-found view) and our
error page otherwise; a stylesheet, script, image or any other request for a name with an extension
gets a plain-text 404 (never the shell, which a browser would refuse as a stylesheet or script, and
never problem+json); other extension-less requests keep problem+json.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from stat import S_ISREG

from aiohttp import web

from contract.config import Config
from contract.config_sections import DEFAULT_STATIC_PATH
from frontdoor.error_pages import wants_html
from frontdoor.problems import API_PREFIXES
from frontdoor.security_headers import CSP_NONCE
from frontdoor.static_rules import (
    ENCODINGS,
    NO_STORE,
    accepted_encodings,
    cache_control_for,
    has_extension,
    inline_script_policy,
    request_kind,
    resolve_inside,
    safe_relative_path,
)

OWN_UI_HOME = "/ui/"
NONCE_PLACEHOLDER = b"{{nonce}}"
HTML_SUFFIXES = (".html", ".htm")
PLAIN_NOT_FOUND = "404: Not Found\n"


def serves_bundle(static_path: Path) -> bool:
    """True when the operator pointed static_path at a web UI of their own (e.g. the official one)."""
    return static_path.resolve() != DEFAULT_STATIC_PATH.resolve()


class _ChosenFile(web.FileResponse):
    """aiohttp's file response (ranges, conditional GET, sendfile) for a variant we already chose.

    aiohttp would otherwise pick ``.br``/``.gz`` siblings itself, without our root and symlink checks.
    """

    def __init__(self, path: Path, encoding: str | None, headers: dict[str, str]):
        super().__init__(path, headers=headers)
        self._encoding = encoding

    def _get_file_path_stat_encoding(self, accept_encoding: str):
        stat = self._path.stat()
        return (self._path if S_ISREG(stat.st_mode) else None), stat, self._encoding


def content_type_of(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name, strict=False)
    return guessed or "application/octet-stream"


def file_response(request: web.Request, root: Path, found: Path, cache_control: str) -> web.StreamResponse:
    """``found`` (a resolved file inside ``root``) or its best precompressed sibling."""
    variants = {}
    for encoding, suffix in ENCODINGS:
        sibling = resolve_inside(root, str((found.parent / (found.name + suffix)).relative_to(root)))
        if sibling is not None:
            variants[encoding] = sibling
    chosen, encoding = found, None
    for wanted in accepted_encodings(request.headers.get("Accept-Encoding")):
        if wanted in variants:
            chosen, encoding = variants[wanted], wanted
            break
    headers = {
        "Content-Type": content_type_of(found),
        "Cache-Control": cache_control,
        "X-Content-Type-Options": "nosniff",
    }
    if variants:
        headers["Vary"] = "Accept-Encoding"  # caches must keep the variants apart
    return _ChosenFile(chosen, encoding, headers)


class StaticFiles:
    def __init__(
        self,
        root: Path,
        *,
        spa_fallback: bool,
        home_redirect: str | None = None,
        prefix: str = "",
        page_policy: str | None = None,
    ):
        self._root = root.resolve()
        self._spa_fallback = spa_fallback
        self._home_redirect = home_redirect
        self._prefix = prefix.rstrip("/")
        # For html without nonce placeholders: the site's policy with inline scripts allowed.
        self._inline_policy = inline_script_policy(page_policy) if page_policy else None

    @classmethod
    def for_config(cls, config: Config) -> StaticFiles:
        """Without a bundle of its own, ``/`` leads to our pages and unknown paths are 404."""
        root = config.service.static_path
        bundled = serves_bundle(root)
        security = getattr(config, "security", None)
        return cls(
            root,
            spa_fallback=bundled and config.service.mode == "webui",
            home_redirect=None if bundled else OWN_UI_HOME,
            page_policy=security.page_policy if bundled and security is not None else None,
        )

    def reload(self, config: Config) -> None:
        """A reloaded CSP (``content_security_policy``, ``[security.csp]``) reaches the bundle's pages."""
        if self._inline_policy is not None:
            self._inline_policy = inline_script_policy(config.security.page_policy)

    def register(self, app: web.Application) -> None:
        app.router.add_get(self._prefix + "/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.rel_url.raw_path[len(self._prefix) :]
        if raw_path in ("", "/") and self._home_redirect:
            raise web.HTTPFound(self._home_redirect)
        relative = safe_relative_path(raw_path)
        if relative is None:
            raise web.HTTPNotFound()
        found = self._find(relative)
        kind = request_kind(request.headers.get("Sec-Fetch-Dest"), wants_html(request.headers.get("Accept")))
        if found is None and self._wants_app_shell(relative, kind):
            found = resolve_inside(self._root, "index.html")
        if found is None:
            if kind == "subresource" or (kind == "other" and has_extension(relative)):
                return web.Response(
                    status=404, text=PLAIN_NOT_FOUND, content_type="text/plain", headers={"Cache-Control": NO_STORE}
                )
            raise web.HTTPNotFound()  # a page for a page load, problem+json otherwise (error_pages)
        # The app shell (also served for directories and SPA routes) is html: never stored.
        cache_control = NO_STORE if found.name == "index.html" else cache_control_for(relative)
        if self._inline_policy and found.suffix in HTML_SUFFIXES:
            return self._bundle_page(request, found, cache_control)
        return file_response(request, self._root, found, cache_control)

    def _bundle_page(self, request: web.Request, found: Path, cache_control: str) -> web.StreamResponse:
        """A bundle's html page under a CSP it can run with (see ``inline_script_policy``)."""
        body = found.read_bytes()
        if NONCE_PLACEHOLDER in body:  # Backend.AI's newer bundles: the request's nonce, strict policy
            nonce = request.get(CSP_NONCE, "")
            body = body.replace(NONCE_PLACEHOLDER, nonce.encode())
            return web.Response(body=body, content_type="text/html", headers={"Cache-Control": NO_STORE})
        response = file_response(request, self._root, found, cache_control)
        response.headers["Content-Security-Policy"] = self._inline_policy
        return response

    def _find(self, relative: str) -> Path | None:
        found = resolve_inside(self._root, relative) if relative else None
        if found is None and (not relative or (self._root / relative).is_dir()):
            found = resolve_inside(self._root, f"{relative}/index.html".lstrip("/"))
        return found

    def _wants_app_shell(self, relative: str, kind: str) -> bool:
        # Client-side routes have no file extension, and a page load of any missing name gets the shell
        # (Backend.AI's behaviour); a missing stylesheet, script or image stays a 404.
        if not self._spa_fallback or ("/" + relative + "/").startswith(API_PREFIXES) or kind == "subresource":
            return False
        return kind == "navigation" or not has_extension(relative)
