"""A minimal, fast stand-in for the Manager: the floor every proxied request is compared with.

It checks no signature.  It answers what a login needs, on both servers under test:
  - ``GET /``: the Manager's version document (the original webserver's client SDK asks it at the
    start of every API session, so once per proxied request; our front door probes it for health);
  - ``POST /auth/authorize``: a fixed keypair for any user name and password;
and every other request, any method and path, with one small constant JSON document.  It counts the
requests it answered (``GET /_bench/count``, not counted) so a benchmark can tell how many upstream
calls one proxied request costs.

Usage: python -m bench.fast_upstream --port P
"""

from __future__ import annotations

import argparse
import json

import uvloop
from aiohttp import web

ACCESS_KEY = "AKIAFASTUPSTREAMBENCH"
SECRET_KEY = "fast-upstream-bench-secret-key-000000000"  # a fixed benchmark key, worth nothing anywhere
VERSION_DOCUMENT = json.dumps({"version": "v7.20230615", "manager": "23.09.10"}).encode()
KEYPAIR_DOCUMENT = json.dumps(
    {"data": {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "role": "superadmin", "status": "active"}}
).encode()
SMALL_DOCUMENT = json.dumps({"ok": True, "from": "fast-upstream"}).encode()
COUNT_PATH = "/_bench/count"


def build_app() -> web.Application:
    answered = [0]  # a list, not an int: the handler updates it without a global statement

    async def answer(request: web.Request) -> web.Response:
        if request.path == COUNT_PATH:
            return web.Response(body=str(answered[0]).encode(), content_type="text/plain")
        answered[0] += 1
        if request.can_read_body:
            await request.read()  # drain the body so the connection stays usable
        if request.path == "/auth/authorize" and request.method == "POST":
            body = KEYPAIR_DOCUMENT
        elif request.path == "/" and request.method == "GET":
            body = VERSION_DOCUMENT
        else:
            body = SMALL_DOCUMENT
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # No access log: the upstream is the floor, it should cost as little as aiohttp allows.
    web.run_app(build_app(), host=args.host, port=args.port, access_log=None, print=None, loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
