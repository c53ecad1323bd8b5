"""Config shared by the component tests that build a front door in process (``build_app``)."""

from __future__ import annotations

# The front door probes every upstream endpoint (GET /, its first round at a random phase of
# ``[api] health_check_interval``, 5 s by default), so a test's Manager sees a probe now and then: a
# test that counted the Manager's connections or read its last request failed when one landed in its
# window (docs/testing.md, "Flakes").  Passive checks only: the Manager sees the test's requests alone.
NO_PROBES = {"health_check_interval": 0}
