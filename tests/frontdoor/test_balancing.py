import pytest

from frontdoor.balancing import Candidate, LeastOutstanding, RoundRobin, rendezvous_rank


def preferred_order(identity: str, agent_ids: list[str]) -> list[str]:
    return sorted(agent_ids, key=lambda agent_id: rendezvous_rank(identity, agent_id))


# For identity "host-3": b, then c, then a, not the alphabetical order (asserted below, so a change of hash shows here first).
FIRST, SECOND, THIRD = "b", "c", "a"


def test_the_preferred_order_is_stable_and_differs_between_identities():
    assert preferred_order("host-3", ["a", "b", "c"]) == [FIRST, SECOND, THIRD]
    assert preferred_order("host-3", ["c", "a", "b"]) == [FIRST, SECOND, THIRD]
    orders = {tuple(preferred_order(f"host-{n}", ["a", "b", "c"])) for n in range(20)}
    assert len(orders) > 1  # other hosts prefer other agents


def test_an_agent_leaving_moves_no_other_agent_in_the_order():
    assert preferred_order("host-3", [SECOND, THIRD]) == [SECOND, THIRD]
    assert preferred_order("host-3", [FIRST, THIRD]) == [FIRST, THIRD]


@pytest.mark.parametrize(
    ("outstanding", "exclude", "chosen"),
    [
        # Below the threshold every agent counts as idle: the preferred one is asked.
        ({FIRST: 0, SECOND: 0, THIRD: 0}, set(), FIRST),
        ({FIRST: 3, SECOND: 0, THIRD: 0}, set(), FIRST),
        ({FIRST: 3, SECOND: 0, THIRD: 0}, {FIRST}, SECOND),
        # At the threshold the preferred one is full: the next idle one in the order.
        ({FIRST: 4, SECOND: 0, THIRD: 0}, set(), SECOND),
        ({FIRST: 4, SECOND: 2, THIRD: 0}, set(), SECOND),
        ({FIRST: 4, SECOND: 4, THIRD: 1}, set(), THIRD),
        # Every one full: fewest in flight, ties in the order of preference.
        ({FIRST: 9, SECOND: 5, THIRD: 7}, set(), SECOND),
        ({FIRST: 5, SECOND: 5, THIRD: 5}, set(), FIRST),
        ({FIRST: 6, SECOND: 5, THIRD: 5}, set(), SECOND),
        ({FIRST: 6, SECOND: 5, THIRD: 5}, {SECOND}, THIRD),
        # A stalled agent (one that let a request time out) comes last, idle or not.
        ({FIRST: (0, True), SECOND: 3, THIRD: 0}, set(), SECOND),
        ({FIRST: (0, True), SECOND: 9, THIRD: 7}, set(), THIRD),
        ({FIRST: (0, True), SECOND: (0, True)}, set(), FIRST),
        ({FIRST: (0, True), SECOND: 0}, {SECOND}, FIRST),
        # Nothing left to ask.
        ({FIRST: 0}, {FIRST}, None),
        ({}, set(), None),
    ],
)
def test_least_outstanding_packs_below_the_threshold(outstanding, exclude, chosen):
    policy = LeastOutstanding("host-3", pack_below=4)
    pool = [
        Candidate(agent_id, *(count if isinstance(count, tuple) else (count, False)))
        for agent_id, count in outstanding.items()
    ]
    assert policy.choose(pool, exclude) == chosen
    assert policy.choose(list(reversed(pool)), exclude) == chosen  # the candidates' order does not matter


def test_without_packing_it_is_plain_least_outstanding():
    policy = LeastOutstanding("host-3", pack_below=0)
    assert policy.choose([Candidate(FIRST, 1), Candidate(SECOND, 0)], set()) == SECOND
    assert policy.choose([Candidate(FIRST, 0), Candidate(SECOND, 0)], set()) == FIRST


def test_idle_agents_are_not_rotated():
    """Consecutive requests at low load go to the same agent (rotating ties woke every signer)."""
    policy = LeastOutstanding("host-3", pack_below=4)
    pool = [Candidate("a", 0), Candidate("b", 0), Candidate("c", 0)]
    assert [policy.choose(pool, set()) for _ in range(4)] == [FIRST] * 4


def test_excluded_agents_are_never_chosen():
    for policy in (LeastOutstanding(), RoundRobin()):
        pool = [Candidate("a", 0), Candidate("b", 9)]
        assert {policy.choose(pool, {"a"}) for _ in range(4)} == {"b"}
        assert policy.choose(pool, {"a", "b"}) is None
        assert policy.choose([], set()) is None


def test_round_robin_visits_everyone():
    policy = RoundRobin()
    pool = [Candidate("a", 5), Candidate("b", 0), Candidate("c", 2)]
    assert sorted(policy.choose(pool, set()) for _ in range(3)) == ["a", "b", "c"]
