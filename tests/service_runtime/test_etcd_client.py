"""Our etcd client (the HTTP/JSON gateway) against real etcd members; aetcd, a gRPC client, checks
independently what it wrote."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import aetcd
import pytest

from contract.config import parse_config
from service_runtime.etcd import EtcdClient
from service_runtime.etcd_wire import EtcdCompacted, EtcdUnavailable
from tests.support.freezing import freeze
from tests.support.polling import eventually
from tests.support.ports import free_port
from tests.support.redis_ha import start_etcd_cluster
from tests.support.servers import start_etcd


@pytest.fixture(scope="module")
def etcd(tmp_path_factory):
    handle = start_etcd(tmp_path_factory.mktemp("etcd"))
    yield handle
    handle.stop()


def client_of(tmp_path: Path, addr: list[str], timeout: float = 5.0, watch_idle: float | None = None, **etcd):
    config = parse_config({"runtime": {"state_dir": str(tmp_path / "state")}, "etcd": {"addr": addr, **etcd}})
    return EtcdClient(config, timeout=timeout, watch_idle=watch_idle)


def etcdctl(endpoints: str, *args: str, user: str | None = None) -> str:
    extra = ("--user", user) if user else ()
    done = subprocess.run(
        ["etcdctl", "--endpoints", endpoints, "--command-timeout=5s", *extra, *args],
        env={**os.environ, "ETCDCTL_API": "3"},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@contextlib.asynccontextmanager
async def silent_member():
    """A port that accepts connections and reads requests but never answers (a member cut off)."""
    connections = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await reader.read()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for writer in connections:
            writer.close()
        await server.wait_closed()


async def test_a_refused_endpoint_is_skipped_for_the_next(etcd, tmp_path):
    client = client_of(tmp_path, [f"127.0.0.1:{free_port()}", etcd.addr])
    try:
        await client.put(b"/t-refused/k", b"v")
        assert (await client.get(b"/t-refused/k")).value == b"v"
    finally:
        await client.close()
    async with aetcd.Client(port=etcd.port) as independent:
        assert (await independent.get(b"/t-refused/k")).value == b"v"


async def test_a_silent_member_costs_a_read_one_timeout_and_a_write_one_error(etcd, tmp_path):
    async with silent_member() as silent:
        client = client_of(tmp_path, [silent, etcd.addr], timeout=0.5)
        try:
            started = time.monotonic()
            assert await client.get(b"/t-silent/none") is None  # the silent member, then etcd
            assert time.monotonic() - started < 2.0
            client.fail_over(client.current)  # back to the silent one
            with pytest.raises(EtcdUnavailable):  # a write that may have been applied is not re-sent
                await client.put(b"/t-silent/k", b"v")
            await client.put(b"/t-silent/k", b"v")  # the next call goes to the next member
            assert (await client.get(b"/t-silent/k")).value == b"v"
        finally:
            await client.close()


async def test_a_lease_keeps_its_keys_until_revoked(etcd, tmp_path):
    client = client_of(tmp_path, [etcd.addr])
    try:
        lease = await client.lease(30)
        await client.put(b"/t-lease/agent", b"up", lease=lease)
        assert (await lease.refresh()).TTL > 0
        async with aetcd.Client(port=etcd.port) as independent:
            assert (await independent.get(b"/t-lease/agent")).lease == lease.id
            await lease.revoke()
            assert await independent.get(b"/t-lease/agent") is None
        assert (await lease.refresh()).TTL == 0
    finally:
        await client.close()


async def test_transactions_compare_versions_and_revisions(etcd, tmp_path):
    client = client_of(tmp_path, [etcd.addr])
    txn = client.transactions
    try:
        key = b"/t-txn/counter"
        assert (await client.transaction([txn.version(key) == 0], [txn.put(key, b"1")], []))[0]
        assert not (await client.transaction([txn.version(key) == 0], [txn.put(key, b"x")], []))[0]
        found = await client.get(key)
        assert (await client.transaction([txn.mod(key) == found.mod_revision], [txn.put(key, b"2")], []))[0]
        assert not (await client.transaction([txn.mod(key) == found.mod_revision], [txn.put(key, b"3")], []))[0]
        assert (await client.get(key)).value == b"2"
        assert await client.delete(key) and not await client.delete(key)
    finally:
        await client.close()


async def test_a_watch_sees_puts_and_deletes_from_its_start_revision(etcd, tmp_path):
    client = client_of(tmp_path, [etcd.addr])
    try:
        async with aetcd.Client(port=etcd.port) as independent:
            await independent.put(b"/t-watch/a", b"1")
            start = (await client.get_prefix(b"/t-watch/")).header.revision
            watch = await client.watch_prefix(b"/t-watch/", start_revision=start)
            await independent.put(b"/t-watch/b", b"2")
            await independent.delete(b"/t-watch/a")
            await independent.put(b"/t-other", b"not watched")
        seen = []
        async with asyncio.timeout(10):
            async for event in watch:
                seen.append((event.kind, event.kv.key, event.kv.value))
                if len(seen) == 3:
                    break
        assert seen == [("PUT", b"/t-watch/a", b"1"), ("PUT", b"/t-watch/b", b"2"), ("DELETE", b"/t-watch/a", b"")]
    finally:
        await client.close()


async def test_a_canceled_watch_ends_its_iteration(etcd, tmp_path):
    client = client_of(tmp_path, [etcd.addr])
    try:
        watch = await client.watch_prefix(b"/t-cancel/")
        waiting = asyncio.ensure_future(anext(aiter(watch)))
        await client.put(b"/t-cancel-other", b"not watched")  # the watch is open and waiting
        await watch.cancel()
        with pytest.raises(StopAsyncIteration):
            async with asyncio.timeout(5):
                await waiting
    finally:
        await client.close()


async def test_a_watch_from_compacted_revisions_raises_compacted(tmp_path):
    etcd = start_etcd(tmp_path)
    client = client_of(tmp_path, [etcd.addr])
    try:
        for value in (b"1", b"2", b"3"):
            await client.put(b"/t-compact/k", value)
        revision = (await client.get(b"/t-compact/k")).mod_revision
        etcdctl(etcd.addr, "compaction", str(revision))
        watch = await client.watch_prefix(b"/t-compact/", start_revision=1)
        with pytest.raises(EtcdCompacted) as raised:
            async with asyncio.timeout(10):
                async for _event in watch:
                    pass
        assert raised.value.compact_revision == revision
    finally:
        await client.close()
        etcd.stop()


async def test_a_frozen_etcd_fails_calls_and_watches_instead_of_hanging(tmp_path):
    etcd = start_etcd(tmp_path)
    client = client_of(tmp_path, [etcd.addr], timeout=0.5, watch_idle=0.5)
    try:
        watch = await client.watch_prefix(b"/t-frozen/")
        events = aiter(watch)
        next_event = asyncio.ensure_future(anext(events))
        freeze(etcd.process.pid)
        started = time.monotonic()
        with pytest.raises(EtcdUnavailable):
            await client.get(b"/t-frozen/k")
        with pytest.raises(EtcdUnavailable):
            async with asyncio.timeout(10):
                await next_event
        assert time.monotonic() - started < 5.0
    finally:
        etcd.process.send_signal(signal.SIGCONT)
        await client.close()
        etcd.stop()


async def test_a_token_etcd_no_longer_knows_is_replaced(tmp_path):
    etcd = start_etcd(tmp_path)
    try:
        etcdctl(etcd.addr, "user", "add", "root:rootpw")
        etcdctl(etcd.addr, "user", "add", "webui:s3cret")
        etcdctl(etcd.addr, "user", "grant-role", "webui", "root")
        etcdctl(etcd.addr, "auth", "enable")
        client = client_of(tmp_path, [etcd.addr], user="webui", password="s3cret")
        try:
            await client.put(b"/t-auth/k", b"1")
            # Turning authentication off and on again drops every token etcd gave out.
            etcdctl(etcd.addr, "auth", "disable", user="root:rootpw")
            etcdctl(etcd.addr, "auth", "enable")
            await client.put(b"/t-auth/k", b"2")
            watch = await client.watch_prefix(b"/t-auth/", start_revision=1)
            async with asyncio.timeout(10):
                assert [e.kv.value async for e in _first(watch, 2)] == [b"1", b"2"]
        finally:
            await client.close()
    finally:
        etcd.stop()


async def _first(watch, count: int):
    async for event in watch:
        yield event
        count -= 1
        if count == 0:
            return


@pytest.mark.slow
async def test_a_watch_carries_on_at_the_next_member_when_its_member_dies(tmp_path):
    cluster = start_etcd_cluster(tmp_path)
    client = client_of(tmp_path, cluster.endpoints, timeout=2.0)
    survivors = ",".join(cluster.endpoints[1:])
    try:
        await client.put(b"/t-ha/a", b"1")
        watch = await client.watch_prefix(b"/t-ha/", start_revision=(await client.get(b"/t-ha/a")).mod_revision)
        events = aiter(watch)
        async with asyncio.timeout(10):
            assert (await anext(events)).kv.value == b"1"
        cluster.kill(0)  # the member the client (and its watch) uses
        await eventually(lambda: cluster.healthy_members() == 2, timeout=20, what="two members left")
        etcdctl(survivors, "put", "/t-ha/b", "2")
        etcdctl(survivors, "del", "/t-ha/a")
        async with asyncio.timeout(20):
            later = [(await anext(events)), (await anext(events))]
        assert [(e.kind, e.kv.key, e.kv.value) for e in later] == [
            ("PUT", b"/t-ha/b", b"2"),
            ("DELETE", b"/t-ha/a", b""),
        ]
        assert client.current != cluster.endpoints[0]
    finally:
        await client.close()
        cluster.stop()
