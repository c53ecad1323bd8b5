"""Synchronous checks used while waiting for a stack (the tests themselves use aiohttp)."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.request


def signed_call_works(base_url: str, username: str, password: str) -> bool:
    """Log in and make one signed call; True when both succeed."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    body = json.dumps({"username": username, "password": password}).encode()
    login = urllib.request.Request(
        f"{base_url}/server/login", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with opener.open(login, timeout=5) as response:
            if json.load(response).get("authenticated") is not True:
                return False
        with opener.open(f"{base_url}/func/auth?echo=ready", timeout=5) as response:
            ok = response.status == 200
        opener.open(urllib.request.Request(f"{base_url}/server/logout", data=b"", method="POST"), timeout=5).close()
        return ok
    except urllib.error.HTTPError:
        return False
