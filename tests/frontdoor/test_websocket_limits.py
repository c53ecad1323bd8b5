"""WebSocket relays are bounded: message size both ways (1009), open sockets per session and per
worker (refused before the upgrade).  Real aiohttp servers on both sides of a real WebSocketRelay."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from contract.config import parse_config
from frontdoor.upstream import upstream_target
from frontdoor.websocket import WebSocketRelay, wants_websocket
from service_runtime.instruments import Instruments
from tests.support.polling import eventually

LIMIT = 64 * 1024
PER_SESSION, PER_WORKER = 2, 3
CLOSES = web.AppKey("closes", list)  # close codes the upstream end saw
RELAY = web.AppKey("relay", WebSocketRelay)


async def upstream_socket(request: web.Request) -> web.WebSocketResponse:
    """Echoes; on "big" sends a message one byte over the relay's limit."""
    ws = web.WebSocketResponse(max_msg_size=0)
    if "slow" in request.query:  # a Manager slow to accept: handshakes pile up in the relay
        await asyncio.sleep(0.3)
    await ws.prepare(request)
    async for message in ws:
        if message.type == WSMsgType.TEXT and message.data == "big":
            await ws.send_bytes(b"u" * (LIMIT + 1))
        elif message.type == WSMsgType.TEXT:
            await ws.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await ws.send_bytes(message.data)
    request.app[CLOSES].append(ws.close_code)
    return ws


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"{host}:{port}"


@pytest.fixture
async def relay_url():
    upstream_app = web.Application()
    upstream_app[CLOSES] = []
    upstream_app.router.add_get("/ws", upstream_socket)
    http = aiohttp.ClientSession()
    security = parse_config(
        {
            "security": {
                "websocket_max_message_size": LIMIT,
                "websocket_max_per_session": PER_SESSION,
                "websocket_max_per_worker": PER_WORKER,
            }
        }
    ).security
    relay = WebSocketRelay(http, security, instruments=Instruments())
    upstream_app[RELAY] = relay  # for the tests that read its counts
    upstream_runner, upstream_host = await serve(upstream_app)

    async def front(request: web.Request) -> web.StreamResponse:
        target = upstream_target(f"http://{upstream_host}", "/ws?slow" if "slow" in request.query else "/ws")
        return await relay.open(request, target, CIMultiDict(), request.query["session"])

    front_app = web.Application()
    front_app.router.add_get("/ws", front)
    front_runner, front_host = await serve(front_app)
    yield f"http://{front_host}/ws", upstream_app
    await front_runner.cleanup()
    await http.close()
    await upstream_runner.cleanup()


async def test_messages_within_the_limit_are_relayed(relay_url):
    url, _upstream = relay_url
    async with aiohttp.ClientSession() as client, client.ws_connect(url + "?session=a", max_msg_size=0) as ws:
        await ws.send_bytes(b"b" * LIMIT)
        assert (await ws.receive(timeout=5)).data == b"b" * LIMIT


@pytest.mark.parametrize("direction", ["browser-to-manager", "manager-to-browser"])
async def test_an_oversized_message_closes_both_sides_with_1009(relay_url, direction):
    url, upstream = relay_url
    async with aiohttp.ClientSession() as client, client.ws_connect(url + "?session=a", max_msg_size=0) as ws:
        if direction == "browser-to-manager":
            await ws.send_bytes(b"b" * (LIMIT + 1))
        else:
            await ws.send_str("big")
        message = await ws.receive(timeout=5)
        assert message.type == WSMsgType.CLOSE, message
        assert message.data == 1009
    await eventually(lambda: upstream[CLOSES], 5, interval=0.02, what="the upstream end closed")
    assert upstream[CLOSES] == [1009]


async def test_open_sockets_are_bounded_per_session_then_per_worker(relay_url):
    url, _upstream = relay_url
    async with aiohttp.ClientSession() as client:
        opened = [await client.ws_connect(url + "?session=a") for _ in range(PER_SESSION)]
        refused = await client.get(url + "?session=a", headers=_upgrade_headers())
        assert refused.status == 429
        assert refused.content_type == "application/problem+json"
        assert (await refused.json())["title"] == "Too many open WebSockets for this session."
        opened.append(await client.ws_connect(url + "?session=b"))  # the worker's third
        refused = await client.get(url + "?session=c", headers=_upgrade_headers())
        assert refused.status == 503
        assert refused.content_type == "application/problem+json"
        await opened.pop().close()
        await _until_opens(client, url + "?session=c")  # a freed slot is usable again
        for ws in opened:
            await ws.close()


async def test_a_burst_of_handshakes_cannot_slip_past_the_bound(relay_url):
    url, _upstream = relay_url
    attempts = PER_SESSION + 3

    async def attempt(client: aiohttp.ClientSession):
        try:
            return await client.ws_connect(url + "?session=a&slow")
        except aiohttp.WSServerHandshakeError as refused:
            return refused.status

    async with aiohttp.ClientSession() as client:
        results = await asyncio.gather(*(attempt(client) for _ in range(attempts)))
        opened = [result for result in results if not isinstance(result, int)]
        assert sorted(result for result in results if isinstance(result, int)) == [429] * (attempts - PER_SESSION)
        assert len(opened) == PER_SESSION
        for ws in opened:
            await ws.close()


async def test_the_relay_counts_sockets_opened_and_ended(relay_url):
    """The collector's input (service_runtime.long_lived_gc): totals, and what is open now."""
    url, upstream = relay_url
    relay = upstream[RELAY]
    async with aiohttp.ClientSession() as client:
        first = await client.ws_connect(url + "?session=a")
        second = await client.ws_connect(url + "?session=a")
        await eventually(lambda: relay.counts() == (2, 0), 5, interval=0.02, what="relay counts (2, 0)")
        assert relay.open_count == 2
        refused = await client.get(url + "?session=a", headers=_upgrade_headers())
        assert refused.status == 429  # a refused handshake is not counted
        assert relay.counts() == (2, 0)
        await first.close()
        await eventually(lambda: relay.counts() == (2, 1), 5, interval=0.02, what="relay counts (2, 1)")
        assert relay.open_count == 1
        await second.close()
        await eventually(lambda: relay.counts() == (2, 2), 5, interval=0.02, what="relay counts (2, 2)")
        assert relay.open_count == 0


def _upgrade_headers() -> dict[str, str]:
    return {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }


async def _until_opens(client: aiohttp.ClientSession, url: str, timeout: float = 5.0) -> None:
    async def opens() -> bool:
        try:
            ws = await client.ws_connect(url)
        except aiohttp.WSServerHandshakeError:
            return False
        await ws.close()
        return True

    await eventually(opens, timeout, interval=0.02, what="the freed slot given back")


@pytest.mark.parametrize(
    "method, headers, wanted",
    [
        ("GET", {"Upgrade": "websocket", "Connection": "Upgrade"}, True),
        ("GET", {"Upgrade": "WebSocket", "Connection": "keep-alive, UPGRADE"}, True),
        ("GET", {"Upgrade": "websocket"}, False),
        ("GET", {"Connection": "Upgrade"}, False),
        ("GET", {"Upgrade": "h2c", "Connection": "Upgrade"}, False),
        ("GET", {"Upgrade": "", "Connection": "Upgrade"}, False),
        ("POST", {"Upgrade": "websocket", "Connection": "Upgrade"}, False),
        ("GET", {}, False),
    ],
)
def test_what_asks_for_a_websocket(method, headers, wanted):
    assert wants_websocket(make_mocked_request(method, "/func/stream/x", headers=headers)) is wanted
