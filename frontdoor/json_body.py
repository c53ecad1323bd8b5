"""The one way a front-door route reads a JSON request body: bounded in size and in nesting.

``json.loads`` recurses once per nesting level, so ~1000 brackets (a few KiB, well inside any size
limit) end in ``RecursionError``, which is no ``ValueError`` and became a 500 with a traceback.
Everything that is not a JSON object of sensible depth is an :class:`InvalidJsonBody` (400).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from frontdoor import problems

MAX_DEPTH = 32  # our bodies (login, groups, deployments) nest three or four levels


class InvalidJsonBody(ValueError):
    """What is wrong with the body, in words fit for the client."""


class NestedTooDeep(InvalidJsonBody):
    """Valid JSON, but deeper than any body of ours: refused everywhere, never parsed further."""


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, refused with 413 past ``limit`` bytes (whatever Content-Length claims)."""
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(raw))
    return raw


def parse_object(raw: bytes | str) -> dict[str, Any]:
    """A JSON object; an empty body is ``{}``."""
    try:
        document = json.loads(raw or b"{}")
    except RecursionError:
        raise NestedTooDeep(f"the body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise InvalidJsonBody("the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise InvalidJsonBody("the body must be a JSON object")
    if _depth(document) > MAX_DEPTH:
        raise NestedTooDeep(f"the body nests deeper than {MAX_DEPTH} levels")
    return document


def _depth(document: Any) -> int:
    """Nesting depth, without recursion (the point is not to recurse on hostile input)."""
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:  # past the bound the answer is known: stop looking deeper
                stack.extend((item, depth + 1) for item in value)
    return deepest


def invalid_json(exc: InvalidJsonBody) -> web.Response:
    return problems.bad_request("Invalid JSON body.", slug="invalid-api-params", details=str(exc)[:200])
