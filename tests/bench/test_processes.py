"""Sorting a server's processes into kinds and summing their CPU and memory (pure parts)."""

import socket

import psutil
import pytest

from bench.processes import (
    MachineClock,
    MemoryPeaks,
    busiest_share,
    connections_per_process,
    cpu_by_kind,
    is_store,
    kind_of,
)


@pytest.mark.parametrize(
    "command_line, kind",
    [
        ("/usr/bin/redis-server 127.0.0.1:41234", "redis-server"),
        ("etcd --name default --data-dir /tmp/x/state/etcd", "etcd"),
        ("/work/.venv/bin/python /work/.venv/bin/supervisord -n -c /tmp/x/supervisord.conf", "supervisord"),
        ("/work/.venv/bin/python -m frontdoor -f /tmp/x/webui-host.toml", "frontdoor"),
        ("/work/.venv/bin/python -m signer_worker -f /tmp/x/webui-host.toml", "signer"),
        ("/work/.venv/bin/python -m session_daemon -f /tmp/x/webui-host.toml", "session_daemon"),
        ("/work/.venv/bin/python /work/.venv/bin/webui-host run -f /tmp/x/webui-host.toml", "launcher"),
        ("backend.ai: webserver worker-1", "worker"),
        ("backend.ai: webserver 127.0.0.1:40001", "master"),
        ("/x/original-venv/bin/python -m ai.backend.web.server -f webserver.conf", "master"),
        ("/work/.venv/bin/python -m bench.fast_upstream --port 4000", "upstream"),
        ("/work/.venv/bin/python -m bench.floor_proxy --port 1 --signer ipc:///tmp/x/floor-signer.sock", "floor proxy"),
        ("/work/.venv/bin/python -m bench.floor_signer --endpoint ipc:///tmp/x/floor-signer.sock", "floor signer"),
        ("/bin/sh -c true", "other"),
    ],
)
def test_every_process_of_both_servers_gets_its_kind(command_line, kind):
    assert kind_of(command_line) == kind


def test_the_checkouts_own_path_names_no_kind():
    command_line = "/work/wt-frontdoor-x/.venv/bin/python -m signer_worker -f /tmp/x/webui-host.toml"
    assert kind_of(command_line, checkout="/work/wt-frontdoor-x") == "signer"


def test_only_redis_and_etcd_are_stores():
    assert is_store("redis-server") and is_store("etcd")
    assert not any(is_store(kind) for kind in ("frontdoor", "signer", "supervisord", "worker", "master"))


def test_cpu_is_summed_per_kind_and_a_process_born_in_between_counts_whole():
    kinds = {1: "frontdoor", 2: "frontdoor", 3: "signer", 4: "signer"}
    before = {1: 10.0, 2: 20.0, 3: 5.0}
    after = {1: 11.5, 2: 20.5, 3: 5.25, 4: 0.75}  # 4 started during the run
    spent = cpu_by_kind(before, after, kinds)
    assert spent == pytest.approx({"frontdoor": 2.0, "signer": 1.0})


def test_memory_peaks_are_peaks_of_sums_not_sums_of_peaks():
    kinds = {1: "frontdoor", 2: "frontdoor", 3: "redis-server"}
    peaks = MemoryPeaks()
    peaks.add_sample({1: 100, 2: 10, 3: 7}, kinds)
    peaks.add_sample({1: 10, 2: 100, 3: 5}, kinds)
    assert peaks.server == 110  # never 200: the two workers did not peak together
    assert peaks.stores == 7
    assert peaks.by_kind == {"frontdoor": 110, "redis-server": 7}
    assert peaks.counts == {"frontdoor": 2, "redis-server": 1}
    assert peaks.server_processes == 2


def test_a_process_that_disappears_keeps_its_kind_counted_at_its_most():
    kinds = {1: "signer", 2: "signer"}
    peaks = MemoryPeaks()
    peaks.add_sample({1: 50, 2: 50}, kinds)
    peaks.add_sample({1: 60}, kinds)
    assert peaks.counts["signer"] == 2
    assert peaks.server == 100


def test_the_share_of_the_machine_busy_elsewhere_leaves_out_the_measured_processes_and_wrk():
    # 5 s on 2 cores = 10 core-seconds; 10 busy, of which 4 measured and 1 wrk: half was someone else's.
    assert MachineClock(busy=10.0, wall=5.0, children=1.0).share_elsewhere(4.0, cpus=2) == pytest.approx(0.5)
    assert MachineClock(busy=3.0, wall=5.0, children=1.0).share_elsewhere(4.0, cpus=2) == 0.0  # never negative


def test_machine_clock_differences():
    later = MachineClock(busy=12.5, wall=103.0, children=2.0).since(MachineClock(busy=10.0, wall=100.0, children=0.5))
    assert (later.busy, later.wall, later.children) == (2.5, 3.0, 1.5)
    now = MachineClock.now()
    assert now.busy > 0 and now.wall > 0


@pytest.mark.parametrize(
    ("split", "share"),
    [([10, 6], 0.625), ([16, 0], 1.0), ([8, 8], 0.5), ([16], None), ([0, 0], None), ([], None)],
)
def test_the_busiest_front_process_share_of_the_connections(split, share):
    assert busiest_share(split) == share


def test_connections_are_counted_per_serving_process_on_the_port_only():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    accepted = [listener.accept()[0] for _ in clients]
    try:
        me = psutil.Process()
        assert connections_per_process([me], {me.pid: "frontdoor"}, port) == [3]
        assert connections_per_process([me], {me.pid: "signer"}, port) == []  # not a serving kind
        assert connections_per_process([me], {me.pid: "worker"}, port + 1 if port < 65535 else port - 1) == [0]
    finally:
        for sock in [*clients, *accepted, listener]:
            sock.close()
