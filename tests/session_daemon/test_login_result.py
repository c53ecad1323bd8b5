"""The ``result`` label of webui_host_logins_total, from the status the login answered with."""

import pytest

from session_daemon.service import login_result


@pytest.mark.parametrize(
    "status, result",
    [
        (200, "success"),
        (401, "failed"),
        (403, "failed"),
        (429, "blocked"),
        (400, "rejected"),
        (404, "rejected"),
        (502, "error"),
        (503, "error"),
        (500, "error"),
    ],
)
def test_login_result(status, result):
    assert login_result(status) == result
