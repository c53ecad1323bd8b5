"""Values written into supervisord.conf: supervisor expands %(name)s everywhere, so literal text is escaped."""

from __future__ import annotations

import re
import shlex
from pathlib import Path


class Expansion(str):
    """Text meant for supervisor's own %(name)s expansion: written as is."""


def conf_text(value: str | Path) -> str:
    """A literal value for supervisord.conf: '%' doubled, and nothing the ini parser would cut."""
    if isinstance(value, Expansion):
        text = str(value)
    else:
        text = str(value).replace("%", "%%")
    if "\n" in text or "\r" in text or re.search(r"\s[;#]", text):
        raise ValueError(f"{value!r} cannot be written into supervisord.conf")
    return text


def conf_join(*parts: str | Path) -> str:
    """Path pieces joined with '/', each piece escaped unless it is an Expansion."""
    return "/".join(conf_text(part).rstrip("/") if i == 0 else conf_text(part) for i, part in enumerate(parts))


def conf_command(*argv: str | Path) -> str:
    """A command line as supervisor splits it (shlex), each word quoted and escaped."""
    words = []
    for arg in argv:
        text = conf_text(arg)
        # %(process_num)s expands to digits; %(here)s to a path, quoted like any literal word.
        words.append(text if isinstance(arg, Expansion) and "%(here)s" not in text else shlex.quote(text))
    return " ".join(words)


def conf_environment(env: dict[str, str]) -> str:
    pairs = []
    for key, value in env.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) or '"' in value or "\\" in value:
            raise ValueError(f"environment {key}={value!r} cannot be written into supervisord.conf")
        pairs.append(f'{key}="{conf_text(value)}"')
    return ",".join(pairs)
