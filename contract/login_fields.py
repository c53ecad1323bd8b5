"""What a valid login field is: the one rule the front door's forms and JSON bodies and the session
daemon's decoding of its commands all apply.  Each check answers with a sentence the browser can show,
or None when all is well.
"""

from __future__ import annotations

MAX_USERNAME = 254  # the longest email address RFC 5321 lets through
MAX_LOCAL_PART = 64
MAX_PASSWORD = 512
_LOCAL_PART_SYMBOLS = set("!#$%&'*+/=?^_`{|}~.-")
_NAME_SYMBOLS = set("._-")


def _domain_problem(domain: str) -> str | None:
    labels = domain.split(".")
    for label in labels:
        if not 1 <= len(label) <= 63:
            return "the domain of the email address has an empty or overlong part"
        if label[0] == "-" or label[-1] == "-" or not all(ch.isalnum() or ch == "-" for ch in label):
            return "the domain of the email address may hold only letters, digits, '-' and '.'"
    return None


def _email_problem(username: str) -> str | None:
    local, _, domain = username.rpartition("@")
    if not local or not domain or "@" in local:
        return "an email address has exactly one '@' with text on both sides"
    if len(local) > MAX_LOCAL_PART:
        return f"the part before '@' is longer than {MAX_LOCAL_PART} characters"
    if local[0] == "." or local[-1] == "." or ".." in local:
        return "the part before '@' may not start or end with '.' or hold '..'"
    if not all(ch.isalnum() or ch in _LOCAL_PART_SYMBOLS for ch in local):
        return "the part before '@' holds a character an email address cannot have"
    return _domain_problem(domain)


def username_problem(username: str) -> str | None:
    """What is wrong with a login name (an email address, or a plain user name), if anything."""
    if not 1 <= len(username) <= MAX_USERNAME:
        return f"the username must be 1 to {MAX_USERNAME} characters long"
    if any(not ch.isprintable() or ch.isspace() for ch in username):
        return "the username may not contain blanks or control characters"
    if "@" in username:
        return _email_problem(username)
    if not username[0].isalnum() or not all(ch.isalnum() or ch in _NAME_SYMBOLS for ch in username):
        return "a user name holds only letters, digits, '.', '_' and '-', and starts with a letter or digit"
    return None


def password_problem(password: str) -> str | None:
    if len(password) > MAX_PASSWORD:
        return f"the password is longer than {MAX_PASSWORD} characters"
    if "\0" in password:
        return "the password may not contain NUL"
    return None


def as_sentence(problem: str) -> str:
    """A problem as the ``details`` of a 400: capitalised, with a full stop."""
    return problem[0].upper() + problem[1:] + "."
