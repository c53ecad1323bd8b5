"""Small real HTTP servers that play a Web API Deployment's upstream, or a host nobody should reach.

Each runs ``http.server`` in a thread on a free loopback port, so it serves while a test blocks in
Playwright as well as while it awaits aiohttp.  It records every connection and request line it
gets (the request target as sent) and answers what ``answers`` says for a path (status, headers, body), else 200 ``ok``.
"""

from __future__ import annotations

import http.cookiejar
import http.server
import json
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from multidict import CIMultiDict

from tests.support.polling import eventually_sync


@dataclass
class Answer:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=lambda: [("Content-Type", "text/plain")])
    body: bytes = b"ok"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        target = self.requestline.split(" ")[1]  # as sent: http.server collapses a leading "//" in self.path
        self.server.owner.requests.append((self.command, target, dict(self.headers)))
        answer = self.server.owner.answers.get(target.partition("?")[0], Answer())
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _answer

    def log_message(self, *args) -> None:  # quiet
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    owner: RecordingServer

    def verify_request(self, request, client_address) -> bool:
        self.owner.connections += 1  # counted even if nothing parseable ever arrives
        return True

    def handle_error(self, request, client_address) -> None:
        """A client that reset its connection (the front door dropping a kept-alive one, a refused
        upgrade) is no error of ours: socketserver printed its traceback into the test run's output."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class RecordingServer:
    def __init__(self, answers: dict[str, Answer] | None = None):
        self.answers = answers or {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.connections = 0
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def paths(self) -> list[str]:
        return [path for _method, path, _headers in self.requests]

    @property
    def received(self) -> list[CIMultiDict]:
        """The headers of every request, looked up case-insensitively."""
        return [CIMultiDict(headers) for _method, _path, headers in self.requests]


def admin_opener(base_url: str, user: tuple[str, str]) -> urllib.request.OpenerDirector:
    """A logged-in urllib client (its own cookie jar): usable from sync fixtures and Playwright tests."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = urllib.request.Request(
        f"{base_url}/server/login",
        data=json.dumps({"username": user[0], "password": user[1]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with opener.open(login, timeout=10) as response:
        assert json.load(response)["authenticated"] is True
    return opener


def _post_json(opener, url: str, body: dict) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def deploy(
    base_url: str,
    user: tuple[str, str],
    name: str,
    upstream: RecordingServer,
    group: str = "PROXY_TESTS",
    signing: str = "none",
    timeout: float = 20.0,
) -> None:
    """Define the group (if new) and a deployment ``/webapi/<name>`` -> ``upstream`` through the admin JSON
    API, then wait until the front door routes to it."""
    opener = admin_opener(base_url, user)
    assert _post_json(opener, f"{base_url}/api/webapi/groups", {"name": group}) in (201, 409)
    definition = {"name": name, "route_prefix": f"/webapi/{name}", "upstreams": [upstream.url], "signing": signing}
    assert _post_json(opener, f"{base_url}/api/webapi/groups/{group}/deployments", definition) in (201, 409)

    def routed() -> bool:
        try:
            with opener.open(f"{base_url}/webapi/{name}/__ready", timeout=5) as response:
                return response.status == 200 and "/__ready" in upstream.paths
        except urllib.error.HTTPError:
            return False

    eventually_sync(routed, timeout, interval=0.3, what=f"/webapi/{name} served")
