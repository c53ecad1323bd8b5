"""Backend.AI's ``[security.csp]`` table: checked source by source, and merged into our page policy.

Backend.AI's webserver (24.09+) builds its Content-Security-Policy from this table, one list of
sources per directive; operators put their wsproxy and storage-proxy origins in ``connect-src`` so
the Web UI may reach them.  We read the same table (the same eleven directives) and *add* its
sources to our page policy (``[security] content_security_policy``): a directive the table names
gets the union of both lists, a directive it does not name keeps ours, so our safe defaults
(``object-src 'none'``, ``base-uri``, ``frame-ancestors``, the script nonce) stay.  ``'none'`` gives
way when the other side names sources (it cannot be combined with them).  To tighten a directive,
set ``content_security_policy`` itself.

Every source must be a CSP source expression (a quoted keyword, nonce or hash, a scheme such as
``data:``, or a host source such as ``https://wsproxy.example.com:5050``); anything else, and any
directive outside the eleven, is refused by name when the configuration is checked.
"""

from __future__ import annotations

import re

# Backend.AI's directives, in its order (kebab-case, as written in webserver.conf).
DIRECTIVES = (
    "default-src",
    "connect-src",
    "img-src",
    "media-src",
    "font-src",
    "script-src",
    "style-src",
    "frame-src",
    "object-src",
    "frame-ancestors",
    "form-action",
)
KEYWORDS = frozenset(
    {
        "'self'",
        "'none'",
        "'unsafe-inline'",
        "'unsafe-eval'",
        "'strict-dynamic'",
        "'unsafe-hashes'",
        "'report-sample'",
        "'wasm-unsafe-eval'",
        "'unsafe-allow-redirects'",
    }
)
_NONCE_OR_HASH = re.compile(r"^'(nonce-[A-Za-z0-9+/_=-]+|sha(256|384|512)-[A-Za-z0-9+/_=-]+)'$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:$", re.I)
_HOST_SOURCE = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://)?"  # scheme
    r"(?:\*|(?:\*\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])"  # host
    r"(?::(?:[0-9]{1,5}|\*))?"  # port
    r"(?:/[A-Za-z0-9._~!$&()*+=:@%/-]*)?$",  # path (no ; or ,)
    re.I,
)


def source_problem(source: object) -> str | None:
    """Why ``source`` is not a CSP source expression, or None when it is one."""
    if not isinstance(source, str):
        return f"{source!r} is not a string"
    if source.lower() in KEYWORDS or _NONCE_OR_HASH.match(source) or _SCHEME.match(source):
        return None
    if f"'{source.strip(chr(39)).lower()}'" in KEYWORDS:  # self, 'self: a keyword missing its quotes
        return f"{source!r} needs single quotes: \"'{source.strip(chr(39)).lower()}'\""
    if source.startswith("'"):
        return f"{source!r} is not a CSP keyword ('self', 'none', 'unsafe-inline', ... or a nonce/hash)"
    if _HOST_SOURCE.match(source):
        return None
    return (
        f"{source!r} is not a CSP source (a keyword, a scheme like data:, or a host like https://ws.example.com:5050)"
    )


def table_problems(table: object) -> list[str]:
    """Every problem of a ``[security.csp]`` table (keys already snake_case), each naming its directive."""
    if not isinstance(table, dict):
        return ["must be a table of directive = [sources]"]
    problems = []
    for key, sources in table.items():
        name = str(key).replace("_", "-")
        if name not in DIRECTIVES:
            problems.append(f"{name}: not a directive Backend.AI's [security.csp] takes ({', '.join(DIRECTIVES)})")
            continue
        if sources is None:
            continue
        if not isinstance(sources, list):
            problems.append(f"{name}: must be a list of sources")
            continue
        problems += [f"{name}: {problem}" for problem in map(source_problem, sources) if problem]
    return problems


def parse_policy(policy: str) -> list[tuple[str, list[str]]]:
    """``"a x y; b z"`` as ``[("a", ["x", "y"]), ("b", ["z"])]``, in order."""
    parsed = []
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed.append((words[0].lower(), words[1:]))
    return parsed


def _union(ours: list[str], theirs: list[str]) -> list[str]:
    merged = [s for s in ours if s.lower() != "'none'"] + [s for s in theirs if s.lower() != "'none'"]
    merged = list(dict.fromkeys(merged))
    return merged or ["'none'"]


def merge_policy(policy: str, table: dict[str, list[str] | None] | None) -> str:
    """``policy`` with the sources of Backend.AI's ``[security.csp]`` table added (module docstring)."""
    if not table:
        return policy
    directives = parse_policy(policy)
    names = [name for name, _ in directives]
    for key, sources in table.items():
        name = str(key).replace("_", "-")
        if not sources:
            continue
        if name in names:
            index = names.index(name)
            directives[index] = (name, _union(directives[index][1], sources))
        else:
            # Not in our policy: it falls back to default-src, so start from that before adding.
            fallback = dict(directives).get("default-src", []) if name.endswith("-src") else []
            directives.append((name, _union(fallback, sources)))
            names.append(name)
    return "; ".join(" ".join([name, *sources]) for name, sources in directives)
