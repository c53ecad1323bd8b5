"""The ``/func/*`` routes Backend.AI's webserver 23.09 treats specially (its ``server.py``), as rules.

Backend.AI forwards these *anonymously* (its ``anon_web_plugin_handler``: no signature, whatever the
session): they are how a browser that is not logged in reaches the Manager's auth plugins and TUS
uploads.  We do the same, with our rules: no signature, no session cookie of ours, no browser
``Authorization`` (the proxy forwards neither, ever).  ``/func/ping`` is answered here, as Backend.AI
answers it itself.  ``/func/auth/signup`` is served by ``frontdoor.signup`` (it takes a password and the
Manager answers it with a secret key), never by the proxy.

Matching is on the routed, decoded path, as Backend.AI's router matches it.  A path we misjudge as
anonymous costs nothing: an unsigned request gets only what the Manager gives anyone.
"""

from __future__ import annotations

import enum
import re

from aiohttp import web


class Special(enum.Enum):
    PING = "ping"  # answered by the web server itself
    AUTH_PLUGIN = "auth_plugin"  # anonymous, limited per address like a login
    TUS_UPLOAD = "tus_upload"  # anonymous: the upload session token in the path is the credential


# (methods, pattern of the path below /func/, kind): Backend.AI 23.09's server.py, route by route.
_RULES: tuple[tuple[frozenset[str], re.Pattern[str], Special], ...] = (
    (frozenset({"GET"}), re.compile(r"ping"), Special.PING),
    (frozenset({"HEAD", "PATCH", "OPTIONS"}), re.compile(r"folders/_/tus/upload/.*"), Special.TUS_UPLOAD),
    (frozenset({"GET", "POST"}), re.compile(r"cloud/.*"), Special.AUTH_PLUGIN),
    (frozenset({"GET", "POST"}), re.compile(r"custom-auth/.*"), Special.AUTH_PLUGIN),
    (frozenset({"GET", "POST"}), re.compile(r"openid/.*"), Special.AUTH_PLUGIN),
    (frozenset({"POST"}), re.compile(r"saml/.*"), Special.AUTH_PLUGIN),
)
# The tus protocol's own headers (tus.io 1.0.0): an upload means nothing without them.
TUS_HEADERS = ("Tus-Resumable", "Upload-Offset", "Upload-Length", "Upload-Metadata", "Upload-Defer-Length")
SIGNUP_PATH = "/func/auth/signup"
# What follows this in a path is a tus upload session's token: a JWT the Manager signed, the upload's credential.
TUS_UPLOAD_SEGMENT = "/tus/upload/"


def _rules_of(method: str) -> tuple[re.Pattern[str], tuple[Special, ...]] | None:
    """The rules ``method`` takes part in as one pattern, an alternative (a group) per rule in order:
    one ``fullmatch`` instead of one per rule; the first alternative that matches whole is the first
    rule that would have (``fullmatch`` backtracks into the next alternative until one does)."""
    rules = [(pattern, kind) for methods, pattern, kind in _RULES if method in methods]
    if not rules:
        return None
    if any(pattern.groups for pattern, _ in rules):
        raise ValueError("a rule's pattern may not have groups of its own: its alternative is told by its group")
    return re.compile("|".join(f"({pattern.pattern})" for pattern, _ in rules)), tuple(kind for _, kind in rules)


_RULES_BY_METHOD = {method: _rules_of(method) for methods, _, _ in _RULES for method in methods}


def special_route(method: str, path: str) -> Special | None:
    """What ``method`` on ``/func/<path>`` (decoded, without the query) is, or None for a signed call."""
    rules = _RULES_BY_METHOD.get(method)
    if rules is None:
        return None
    match = rules[0].fullmatch(path)
    return None if match is None else rules[1][match.lastindex - 1]


def _literal_heads(kind: Special) -> tuple[str, ...] | None:
    """What every path of ``kind`` starts with, when each of its rules is a literal head and ``.*``
    (then a path starting with none of them is not of that kind); None when one rule is not."""
    heads = []
    for _methods, pattern, each in _RULES:
        if each is kind:
            head, star, tail = pattern.pattern.partition(".*")
            if not star or tail or re.fullmatch(r"[A-Za-z0-9_/-]*", head) is None:
                return None
            heads.append(head)
    return tuple(heads)


# Most proxied calls under /func/ are signed ones: told apart by their first characters, not a match.
_AUTH_PLUGIN_HEADS = _literal_heads(Special.AUTH_PLUGIN)


def limited_like_login(method: str, request_path: str, signup_enabled: bool) -> bool:
    """Anonymous requests that reach the Manager's authentication: the per-address login limit applies."""
    if not request_path.startswith("/func/"):
        return False
    if request_path == SIGNUP_PATH and method == "POST":
        return signup_enabled
    rest = request_path[6:]  # (after "/func/")
    if _AUTH_PLUGIN_HEADS is not None and not rest.startswith(_AUTH_PLUGIN_HEADS):
        return False
    return special_route(method, rest) is Special.AUTH_PLUGIN


def path_for_logs(path: str) -> str:
    """``path`` as a log line may carry it: a tus upload's token is left out."""
    head, found, token = path.partition(TUS_UPLOAD_SEGMENT)
    return f"{head}{found}<token>" if token else path


def ping_answer(version: str) -> web.Response:
    """Backend.AI's ``webserver_healthcheck``: the web server's own version, never the Manager's."""
    return web.json_response({"version": version, "details": "Success"})
