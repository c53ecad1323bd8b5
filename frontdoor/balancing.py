"""Choosing a signer for a request: plain logic, no sockets."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True, slots=True)
class Candidate:
    agent_id: str
    outstanding: int


class LeastOutstanding:
    """Fewest requests in flight wins; ties rotate so idle agents share the load."""

    def __init__(self) -> None:
        self._turn = itertools.count()

    def choose(self, candidates: Iterable[Candidate], exclude: set[str]) -> str | None:
        eligible = [c for c in candidates if c.agent_id not in exclude]
        if not eligible:
            return None
        fewest = min(c.outstanding for c in eligible)
        tied = sorted(c.agent_id for c in eligible if c.outstanding == fewest)
        return tied[next(self._turn) % len(tied)]


class RoundRobin:
    def __init__(self) -> None:
        self._turn = itertools.count()

    def choose(self, candidates: Iterable[Candidate], exclude: set[str]) -> str | None:
        eligible = sorted(c.agent_id for c in candidates if c.agent_id not in exclude)
        return eligible[next(self._turn) % len(eligible)] if eligible else None
