"""The round-trip micro-benchmark runs through the real hop (sockets, signer handler, counting)."""

from __future__ import annotations

from bench import signer_dispatch


async def test_a_short_run_signs_every_request_and_reports_cpu_per_round_trip():
    microseconds = await signer_dispatch.measure(requests=20, repeat=2)
    assert 0 < microseconds < 1_000_000  # (round_trips asserts that every answer was a signature)
