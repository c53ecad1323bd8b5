"""Request parameter helpers that fail with the Manager's invalid-api-params problem."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aiohttp import web

from devstack.problems import INVALID_API_PARAMS, Problem

N = TypeVar("N", int, float)


async def json_object(request: web.Request) -> dict[str, Any]:
    try:
        payload = json.loads(await request.read() or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Problem(INVALID_API_PARAMS, "Malformed body") from None
    if not isinstance(payload, dict):
        raise Problem(INVALID_API_PARAMS, "The request body must be a JSON object")
    return payload


async def api_params(request: web.Request) -> Mapping[str, Any]:
    """Query string for GET/HEAD, JSON object otherwise (like the Manager's check_api_params)."""
    if request.method in ("GET", "HEAD"):
        return request.query
    return await json_object(request)


def required_str(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str):
        raise Problem(INVALID_API_PARAMS, f"{name}: is required and must be a string")
    return value


def query_number(request: web.Request, name: str, default: N, cast: Callable[[str], N], minimum: N) -> N:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise Problem(INVALID_API_PARAMS, f"{name}: not a number") from None
    if not value >= minimum:  # also rejects NaN
        raise Problem(INVALID_API_PARAMS, f"{name}: must be >= {minimum}")
    return value
