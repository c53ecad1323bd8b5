"""The Manager's password-taking auth endpoints, as seen through the proxy: refused or limited.

Passwords reach the Manager only through the session daemon, behind its per-account failure
counter; secret keys reach only the daemon and the signers.  Proxied as any other path, these
endpoints would let a logged-in user guess other accounts' passwords without that counter, and
carry a secret key through the front door's memory:

* ``auth/authorize`` (password in, secret key out), ``auth/signup`` (password in, secret key out) and
  ``auth/update-password-no-auth`` (a password check; the front door has ``/server/...`` for it,
  behind the daemon's counter) are refused outright.  Signup too, unless ``[service] enable_signup``:
  then the exact route ``POST /func/auth/signup`` is served by ``frontdoor.signup`` through the
  daemon, and every other spelling of it still lands here and is refused.
* ``auth/update-password`` and ``auth/signout`` check the session's *own* password (the Manager
  compares it with the caller's account) and the Web UI's settings page needs the first, so they
  stay, with a per-account attempt limit in front of them: a stolen cookie must not become an
  unlimited password oracle.  The front door cannot see the Manager's verdict before answering
  without buffering, so attempts are counted, not failures.

Matching is done on the path decoded until it no longer changes, with empty and ``.`` segments
dropped, ``..`` applied and letters folded to lower case, and on its *last* two segments, so no
encoding, doubled slash, trailing slash, dot segment or Manager path prefix slips past.
"""

from __future__ import annotations

import enum
from urllib.parse import unquote

MAX_DECODE_ROUNDS = 8  # more rounds than this is an attack in itself: treated as the worst case


class AuthRule(enum.Enum):
    REFUSE = "refuse"
    LIMIT_PER_ACCOUNT = "limit_per_account"


RULES: dict[tuple[str, str], AuthRule] = {
    ("auth", "authorize"): AuthRule.REFUSE,
    ("auth", "signup"): AuthRule.REFUSE,
    ("auth", "update-password-no-auth"): AuthRule.REFUSE,
    ("auth", "update-password"): AuthRule.LIMIT_PER_ACCOUNT,
    ("auth", "signout"): AuthRule.LIMIT_PER_ACCOUNT,
}
LOGIN_INSTEAD = "/server/login"
PASSWORD_CHANGE_INSTEAD = "/server/update-password-no-auth"


def normalised_segments(raw_path: str) -> list[str] | None:
    """The path's segments as the Manager's router could come to see them; None if decoding never settles."""
    path = raw_path.partition("?")[0].partition("#")[0]
    for _ in range(MAX_DECODE_ROUNDS):
        decoded = unquote(path, errors="replace")
        if decoded == path:
            break
        path = decoded
    else:
        return None
    segments: list[str] = []
    for segment in path.replace("\\", "/").lower().split("/"):
        segment = segment.strip()
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment.split(";", 1)[0])  # a ;parameter does not change the route
    return segments


# The rule of a path that must be normalised (it has a "%" or an "auth"), by path: the rule is a
# function of the path alone, and a client sends the same few paths again and again (~1.8 µs to
# normalise "/func/auth", ~4 µs with an encoded segment, against ~0.1 µs to look up).  Bounded in
# entries and in the length of a path kept; emptied when full, so a flood of new paths costs each its
# normalisation, as without the memo.
MAX_REMEMBERED_PATHS = 2048
MAX_REMEMBERED_PATH_LENGTH = 256
_rules_of_paths: dict[str, AuthRule | None] = {}
_UNKNOWN = object()


def auth_rule(raw_path: str) -> AuthRule | None:
    """What to do with a proxied request for ``raw_path`` (everything after the host)."""
    path = raw_path.partition("?")[0].partition("#")[0]
    if "%" not in path and "auth" not in path.lower():
        # Most calls: nothing to decode, and no segment can be "auth" (segments are pieces of the
        # lower-cased path), so no rule applies; the same answer without splitting the path.
        return None
    rule = _rules_of_paths.get(path, _UNKNOWN)
    if rule is _UNKNOWN:
        rule = rule_of_segments(path)
        if len(path) <= MAX_REMEMBERED_PATH_LENGTH:
            if len(_rules_of_paths) >= MAX_REMEMBERED_PATHS:
                _rules_of_paths.clear()
            _rules_of_paths[path] = rule
    return rule


def rule_of_segments(path: str) -> AuthRule | None:
    """The rule of a path (no query) from its normalised segments, every time."""
    segments = normalised_segments(path)
    if segments is None:
        return AuthRule.REFUSE
    return RULES.get(tuple(segments[-2:])) if len(segments) >= 2 else None
