"""A worker leaving a port it shares with others (SO_REUSEPORT) resets none of the connections the kernel
had already handed it (``frontdoor.shared_port``); real sockets and aiohttp servers on loopback."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest
from aiohttp import web

from frontdoor.shared_port import SharedPortSite, accept_queue_length, refuse_new_handshakes, shared_listeners

HOSTS = ["127.0.0.1", "::1"]
QUEUED = 64  # connections whose handshakes the kernel completes while the loop is held
ARRIVING = 32  # connections started while the worker leaves


def migrating_kernel() -> bool:
    """``net.ipv4.tcp_migrate_req = 1``: the kernel itself moves queued connections at close."""
    try:
        return Path("/proc/sys/net/ipv4/tcp_migrate_req").read_text().strip() == "1"
    except OSError:
        return False


def start_connects(host: str, port: int, count: int) -> list[socket.socket]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    clients = []
    for _ in range(count):
        client = socket.socket(family)
        client.setblocking(False)
        try:
            client.connect((host, port))
        except BlockingIOError:
            pass
        clients.append(client)
    return clients


def exchange(client: socket.socket) -> str:
    """One request on a connection started earlier: its status line and who answered, or the error a
    browser would see."""
    try:
        client.setblocking(True)
        client.settimeout(5)
        error = client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            return f"connect failed: errno {error}"
        client.sendall(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
        if not answer:
            return "no answer"
        status, body = answer.split(b"\r\n", 1)[0], answer.rsplit(b"\r\n", 1)[-1]
        return f"{status.decode()} from {body.decode()}"
    except OSError as exc:
        return type(exc).__name__
    finally:
        client.close()


async def exchanges(clients: list[socket.socket]) -> dict[str, int]:
    results = await asyncio.gather(*(asyncio.to_thread(exchange, client) for client in clients))
    return {result: results.count(result) for result in set(results)}


def free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


async def worker(name: str, host: str, port: int) -> tuple[web.AppRunner, SharedPortSite]:
    async def answer(_request: web.Request) -> web.Response:
        return web.Response(text=name)

    app = web.Application()
    app.router.add_get("/", answer)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = SharedPortSite(runner, host, port)
    await site.start()
    return runner, site


async def two_workers_with_queued_connections(host: str):
    port = free_port(host)
    leaving, staying = await worker("leaving", host, port), await worker("staying", host, port)
    queued = start_connects(host, port, QUEUED)
    time.sleep(0.2)  # on purpose: the loop is held, so the kernel queues them, unaccepted, on both listeners
    return port, leaving, staying, queued


@pytest.mark.parametrize("host", HOSTS)
async def test_a_worker_that_leaves_answers_every_connection_it_was_handed(host):
    port, (leaving_runner, leaving), (staying_runner, staying), queued = await two_workers_with_queued_connections(host)
    try:
        departure = asyncio.create_task(leaving.leave())
        await asyncio.sleep(0)  # the leave has started: new SYNs to the leaving listener are dropped
        arriving = start_connects(host, port, ARRIVING)
        await departure
        answered = await exchanges(queued)
        assert sum(answered.values()) == QUEUED and set(answered) == {
            "HTTP/1.1 200 OK from leaving",
            "HTTP/1.1 200 OK from staying",
        }, answered
        # Once leaving, a worker takes no new connection: the kernel gives the retried SYN to the other.
        assert await exchanges(arriving) == {"HTTP/1.1 200 OK from staying": ARRIVING}
    finally:
        await staying.stop()
        for runner in (leaving_runner, staying_runner):
            await runner.cleanup()


@pytest.mark.parametrize("host", HOSTS)
async def test_a_listener_closed_at_once_resets_connections_queued_to_it(host):
    """Why ``leave`` exists: the plain close (what aiohttp's site.stop does) loses queued connections."""
    port, (leaving_runner, leaving), (staying_runner, staying), queued = await two_workers_with_queued_connections(host)
    try:
        await leaving.stop()
        results = await exchanges(queued)
        served = results.get("HTTP/1.1 200 OK from staying", 0)
        if migrating_kernel():
            assert served == QUEUED, results
        else:
            assert 0 < served < QUEUED, results  # some went to the other listener, the rest were reset
    finally:
        await staying.stop()
        for runner in (leaving_runner, staying_runner):
            await runner.cleanup()


def test_a_refusing_listener_keeps_its_queue_and_completes_no_new_handshake():
    (listener,) = shared_listeners("127.0.0.1", 0, backlog=16)
    port = listener.getsockname()[1]
    try:
        before = start_connects("127.0.0.1", port, 3)
        deadline = time.monotonic() + 5
        while accept_queue_length(listener) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert accept_queue_length(listener) == 3
        refuse_new_handshakes(listener)
        (after,) = start_connects("127.0.0.1", port, 1)
        time.sleep(0.3)  # on purpose: "no handshake completes within" is the assertion
        assert accept_queue_length(listener) == 3
        assert after.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0  # not refused either: retried later
        listener.settimeout(1)
        accepted = [listener.accept()[0] for _ in range(3)]
        for connection in accepted:
            connection.sendall(b"still served")  # established connections pass the filter
        for client in before:
            client.settimeout(1)
        assert [client.recv(64) for client in before] == [b"still served"] * 3
        for sock in accepted + before + [after]:
            sock.close()
    finally:
        listener.close()


def test_workers_share_the_port_and_a_failed_bind_leaves_no_socket():
    first = shared_listeners("127.0.0.1", 0, backlog=16)
    port = first[0].getsockname()[1]
    second = shared_listeners("127.0.0.1", port, backlog=16)  # SO_REUSEPORT: a second worker binds too
    with socket.socket() as plain:
        plain.bind(("127.0.0.1", 0))
        plain.listen()
        taken = plain.getsockname()[1]
        with pytest.raises(OSError):
            shared_listeners("127.0.0.1", taken, backlog=16)  # held without SO_REUSEPORT
    for sock in first + second:
        sock.close()


async def test_a_leave_waits_for_a_queue_the_loop_has_not_accepted_yet():
    """The grace is a floor, not the whole wait: a queue still full after it is accepted before closing."""
    port = free_port("127.0.0.1")
    runner, site = await worker("only", "127.0.0.1", port)
    try:
        queued = start_connects("127.0.0.1", port, 8)
        (listener,) = site.sockets
        deadline = time.monotonic() + 5
        while accept_queue_length(listener) < 8 and time.monotonic() < deadline:
            time.sleep(0.01)  # the loop is held on purpose: nothing is accepted meanwhile
        await site.leave(grace=0)
        assert await exchanges(queued) == {"HTTP/1.1 200 OK from only": 8}
    finally:
        await runner.cleanup()
