"""What the launcher does for operations: drain-aware stopwaitsecs (told to the front door), the ops port checked like the others."""

from __future__ import annotations

from pathlib import Path

from contract.config import parse_config
from contract.host_layout import DRAIN_BUDGET_ENV
from tests.webui_host.test_supervisord_conf import host_conf, parse_conf, processes
from webui_host import host_checks, supervisord_conf


def test_supervisord_waits_for_the_front_door_drain_before_killing(tmp_path: Path):
    setup, text = host_conf(tmp_path, "[ops]\ndrain_timeout = 10\nunready_delay = 2.5\n")
    options = parse_conf(text, tmp_path)
    frontdoor = [p for name, p in processes(options).items() if name.startswith("frontdoor:")]
    assert frontdoor and all(p.stopwaitsecs == 13 + supervisord_conf.DRAIN_MARGIN for p in frontdoor)
    # The front door is told what the wait covers: a reload asking for a longer drain needs a restart.
    assert all(p.environment[DRAIN_BUDGET_ENV] == "13" for p in frontdoor)
    assert all(
        DRAIN_BUDGET_ENV not in (p.environment or {})
        for name, p in processes(options).items()
        if "frontdoor" not in name
    )
    assert all(
        p.stopwaitsecs == supervisord_conf.DEFAULT_STOPWAIT
        for name, p in processes(options).items()
        if name.startswith("signers:")
    )


def test_the_ops_port_is_checked_like_the_public_port():
    clash = parse_config({"service": {"port": 9000}, "ops": {"port": 9000}})
    assert any("9000" in problem and "ops" in problem for problem in host_checks.check_problems(clash))
    assert host_checks.listen_ports(parse_config({}), devstack=False)["ops"] == ("127.0.0.1", 8092)
