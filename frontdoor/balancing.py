"""Choosing a signer for a request: plain logic, no sockets."""

from __future__ import annotations

import hashlib
import itertools
from typing import AbstractSet, Iterable, NamedTuple

# An agent with fewer signing requests in flight than this counts as idle: a new request joins its
# next message rather than waking another process.  What one signer answers in one wake-up at no
# cost in latency: docs/performance.md "Packing requests onto fewer signers" has the measurement.
PACK_BELOW = 16


class Candidate(NamedTuple):  # (immutable, and made in a third of a frozen dataclass's time: per request)
    agent_id: str
    outstanding: int
    stalled: bool = False  # it let a request time out lately: asked only when no other agent is left


def rendezvous_rank(identity: str, agent_id: str) -> bytes:
    """The agent's place in ``identity``'s order of preference (smallest first): a rendezvous hash,
    so an agent joining or leaving moves no other agent's place, and other identities (other hosts)
    prefer other agents."""
    return hashlib.blake2b(f"{identity}\0{agent_id}".encode(), digest_size=8).digest()


class LeastOutstanding:
    """Fewest requests in flight wins, counting every agent below ``pack_below`` as idle; among
    equals, the agent ``identity`` prefers (a stable order, not a rotation).

    So requests at low load all go to one agent (one process woken, its caches warm, its messages
    fuller), and spread to the next agent only once the preferred one has ``pack_below`` in flight.
    A stalled agent (frozen, or too busy to answer in time) comes last: packing must not pile
    requests onto it while it counts as idle.
    """

    def __init__(self, identity: str = "", pack_below: int = PACK_BELOW) -> None:
        self._identity = identity
        self.pack_below = pack_below
        self._ranks: dict[str, bytes] = {}  # agent id -> rendezvous rank (a few agents per front door)

    def preferred_order(self, agent_ids: Iterable[str]) -> list[str]:
        """The agents in ``identity``'s order of preference: the first of them that is eligible, not
        stalled and below ``pack_below`` is what ``choose`` returns (its key is the least possible)."""
        return sorted(agent_ids, key=self._rank)

    def choose(self, candidates: Iterable[Candidate], exclude: AbstractSet[str]) -> str | None:
        best: str | None = None
        best_key: tuple[bool, int, bytes] | None = None
        for candidate in candidates:
            if candidate.agent_id in exclude:
                continue
            load = candidate.outstanding if candidate.outstanding >= self.pack_below else 0
            key = (candidate.stalled, load, self._rank(candidate.agent_id))
            if best_key is None or key < best_key:
                best, best_key = candidate.agent_id, key
        return best

    def _rank(self, agent_id: str) -> bytes:
        rank = self._ranks.get(agent_id)
        if rank is None:
            if len(self._ranks) > 1024:  # agent ids of pools long gone
                self._ranks.clear()
            rank = self._ranks[agent_id] = rendezvous_rank(self._identity, agent_id)
        return rank


class RoundRobin:
    def __init__(self) -> None:
        self._turn = itertools.count()

    def choose(self, candidates: Iterable[Candidate], exclude: AbstractSet[str]) -> str | None:
        eligible = sorted(c.agent_id for c in candidates if c.agent_id not in exclude)
        return eligible[next(self._turn) % len(eligible)] if eligible else None
