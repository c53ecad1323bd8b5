from frontdoor.balancing import Candidate, LeastOutstanding, RoundRobin


def test_least_outstanding_prefers_the_idle_agent():
    policy = LeastOutstanding()
    pool = [Candidate("a", 3), Candidate("b", 0), Candidate("c", 1)]
    assert {policy.choose(pool, set()) for _ in range(5)} == {"b"}


def test_ties_rotate():
    policy = LeastOutstanding()
    pool = [Candidate("a", 0), Candidate("b", 0)]
    assert [policy.choose(pool, set()) for _ in range(4)] == ["a", "b", "a", "b"]


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
