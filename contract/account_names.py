"""One spelling per account, for everything that counts per account (failed logins, password checks)."""

from __future__ import annotations

import unicodedata


def account_key(username: str) -> str:
    """The name a per-account counter is kept under, however the account was spelled.

    The Manager matches e-mail addresses without regard to case (and a browser may add blanks or
    full-width letters), so counting per spelling would give a guesser a fresh budget per variant.
    NFKC folds compatibility forms (full-width letters and blanks), casefold() goes beyond lower(),
    and the second NFKC folds what casefold() produced back into normal form.
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold()).strip()
