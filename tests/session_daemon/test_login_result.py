"""The ``result`` label of webui_host_logins_total, from the typed result a login answered with."""

import pytest

from contract.session_results import (
    InternalError,
    InvalidCommand,
    LoginBlocked,
    LoginSucceeded,
    ManagerRefused,
    ManagerUnavailable,
    StoreUnavailable,
)
from session_daemon.logins import login_result


@pytest.mark.parametrize(
    "result, label",
    [
        (LoginSucceeded("s" * 32, "AK", "user", "active"), "success"),
        (ManagerRefused(401, "t", "x"), "failed"),
        (ManagerRefused(403, "t", "x"), "failed"),
        (LoginBlocked(1200), "blocked"),
        (ManagerRefused(400, "t", "x"), "rejected"),
        (ManagerRefused(404, "t", "x"), "rejected"),
        (ManagerRefused(429, "t", "x"), "blocked"),
        (ManagerRefused(500, "t", "x"), "error"),
        (ManagerUnavailable("Cannot connect to the Manager."), "error"),
        (StoreUnavailable(), "error"),
        (InvalidCommand("x"), "error"),
        (InternalError(), "error"),
    ],
)
def test_login_result(result, label):
    assert login_result(result) == label
