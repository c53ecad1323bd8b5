"""webui-host as the comparison's server under test: measured only once every front door takes
connections (the later ones start once the first serves, so the first proxied answer comes before)."""

import psutil
import pytest

from bench.processes import describe
from bench.targets import FastUpstream
from bench.webui_host_target import WebuiHost

pytestmark = pytest.mark.slow


@pytest.fixture
def upstream(tmp_path):
    server = FastUpstream(tmp_path / "upstream.log").start()
    yield server
    server.stop()


def test_a_started_stack_has_every_front_door_listening(tmp_path, upstream):
    (tmp_path / "stack").mkdir()
    target = WebuiHost(tmp_path / "stack", upstream.url, workers=2, signers=1)
    try:
        assert target.start() > 0
        members = target.processes()
        front_doors = [pid for pid, kind in describe(members).items() if kind == "frontdoor"]
        port = int(target.base_url.rsplit(":", 1)[1])
        listening = [
            pid
            for pid in front_doors
            if any(
                c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in psutil.Process(pid).net_connections()
            )
        ]
        assert len(front_doors) == 2 and sorted(listening) == sorted(front_doors)
    finally:
        target.stop()
