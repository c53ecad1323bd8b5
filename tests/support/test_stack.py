"""The test stack itself: a port taken between choosing it and the launcher binding it."""

from __future__ import annotations

import socket

import pytest

from tests.support.stack import RunningStack

pytestmark = pytest.mark.slow


def test_a_stack_whose_port_was_taken_meanwhile_starts_on_new_ones(tmp_path):
    stack = RunningStack(tmp_path)
    chosen = stack.ports
    # What another test's connection did in CI: took the etcd peer port after it was found free.
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", chosen.etcd + 1))
    squatter.listen()
    try:
        stack.start()
        assert stack.ports != chosen
        assert f":{stack.ports.frontdoor}" in stack.base_url
    finally:
        stack.stop()
        squatter.close()
