"""RFC 7807 ``application/problem+json`` errors shaped like the Manager's."""

from __future__ import annotations

import json
from dataclasses import dataclass

from aiohttp import web

PROBLEM_TYPE_BASE = "https://api.backend.ai/probs/"
PROBLEM_CONTENT_TYPE = "application/problem+json"


@dataclass(frozen=True)
class ProblemKind:
    status: int
    slug: str
    title: str


# Titles are the Manager's own (docs/protocol.md §2.10); clients match on them.
INVALID_AUTH_PARAMS = ProblemKind(400, "invalid-auth-params", "Missing or invalid authorization parameters.")
AUTH_FAILED = ProblemKind(401, "auth-failed", "Credential/signature mismatch.")
PASSWORD_EXPIRED = ProblemKind(401, "password-expired", "Password has expired.")
INVALID_API_PARAMS = ProblemKind(400, "invalid-api-params", "Missing or invalid API parameters.")
GENERIC_BAD_REQUEST = ProblemKind(400, "generic-bad-request", "Bad request.")
URL_NOT_FOUND = ProblemKind(404, "url-not-found", "Unknown URL path.")
METHOD_NOT_ALLOWED = ProblemKind(405, "method-not-allowed", "HTTP Method Not Allowed.")
INTERNAL_SERVER_ERROR = ProblemKind(500, "internal-server-error", "Internal server error.")


class Problem(Exception):
    """An error that becomes a problem+json response; raised anywhere in the stack."""

    def __init__(self, kind: ProblemKind, msg: str | None = None) -> None:
        super().__init__(msg or kind.title)
        self.kind = kind
        self.msg = msg

    @property
    def status(self) -> int:
        return self.kind.status

    def body(self) -> dict[str, str]:
        body = {"type": PROBLEM_TYPE_BASE + self.kind.slug, "title": self.kind.title}
        if self.msg:
            body["msg"] = self.msg
        return body

    def __repr__(self) -> str:
        return f"Problem({self.kind.slug!r}, {self.msg!r})"


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=problem.status,
        body=json.dumps(problem.body()).encode(),  # bytes: no "; charset" suffix, like the Manager
        content_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def problem_for_http_exception(exc: web.HTTPException) -> Problem:
    """Map aiohttp's routing/parsing exceptions onto Manager problem types."""
    if exc.status == 404:
        return Problem(URL_NOT_FOUND)
    if exc.status == 405:
        return Problem(METHOD_NOT_ALLOWED)
    if exc.status >= 500:
        return Problem(INTERNAL_SERVER_ERROR)
    # e.g. 413 from a too-large body, 400 from a bad WebSocket handshake
    kind = ProblemKind(exc.status, "generic-bad-request", GENERIC_BAD_REQUEST.title)
    return Problem(kind, exc.reason)
