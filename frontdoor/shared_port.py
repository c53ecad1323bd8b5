"""Listeners shared by every front-door worker (SO_REUSEPORT), and how one leaves without a reset.

Linux hands each new connection to one listener of the port, chosen by a hash of its addresses, and
completes the handshake before the process accepts it.  A listener closed while connections wait in
its accept queue resets them: the client's connect fails with "connection reset" (2 requests of
4,261 in a rolling restart of the front doors under load).  So a draining worker leaves in three
steps (``SharedPortSite.leave``):

1. its listener drops new SYNs (a classic BPF filter on this one socket: a SYN without ACK is
   dropped, everything else passes), so no new connection is queued to it; the client retransmits
   its SYN after the kernel's initial timeout (1 s), by when this listener is gone and the kernel
   picks one still open;
2. for ``HANDSHAKE_GRACE`` the worker goes on accepting: what was queued, and the handshakes already
   answered whose last ACK is on its way;
3. it closes the listener.

(``net.ipv4.tcp_migrate_req = 1``, Linux 5.14+, makes the kernel hand queued connections to another
listener at close; it is a namespace-wide setting an operator may add, not something we rely on.)
"""

from __future__ import annotations

import asyncio
import ctypes
import socket
import ssl
import struct

from aiohttp import web

# Below the 1 s initial SYN retransmission timeout: a SYN dropped in step 1 is retried once, after the close.
HANDSHAKE_GRACE = 0.5
QUEUE_WAIT = 0.5  # at most this much longer if the accept queue is still not empty (a very busy loop)
POLL = 0.02

SO_ATTACH_FILTER = 26  # asm-generic/socket.h (not exported by Python's socket module)

# The filter runs on the TCP header (the kernel has pulled the IP header); byte 13 holds the flags.
_BPF_LD_B_ABS, _BPF_ALU_AND_K, _BPF_JMP_JEQ_K, _BPF_RET_K = 0x30, 0x54, 0x15, 0x06
_TCP_FLAGS_OFFSET, _SYN, _ACK = 13, 0x02, 0x10
DROP_NEW_HANDSHAKES = (
    (_BPF_LD_B_ABS, 0, 0, _TCP_FLAGS_OFFSET),
    (_BPF_ALU_AND_K, 0, 0, _SYN | _ACK),
    (_BPF_JMP_JEQ_K, 0, 1, _SYN),  # a SYN without ACK: next instruction (drop); else skip it
    (_BPF_RET_K, 0, 0, 0),  # drop
    (_BPF_RET_K, 0, 0, 0xFFFFFFFF),  # keep the whole packet
)

# struct tcp_info: eight one-byte fields, then u32s; for a listener ``tcpi_unacked`` (the fifth u32) is
# the accept queue's length.
_TCP_INFO = struct.Struct("=8B5I")


def refuse_new_handshakes(sock: socket.socket) -> None:
    """From now on this listener drops SYNs; queued connections and handshakes in progress go on."""
    code = b"".join(struct.pack("=HBBI", *instruction) for instruction in DROP_NEW_HANDSHAKES)
    program = ctypes.create_string_buffer(code)  # the kernel copies it during setsockopt
    fprog = struct.pack("@HP", len(DROP_NEW_HANDSHAKES), ctypes.addressof(program))  # struct sock_fprog
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def accept_queue_length(sock: socket.socket) -> int:
    """Connections the kernel completed for this listener that the process has not accepted yet."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO.size)
    return _TCP_INFO.unpack_from(info)[-1]


def shared_listeners(host: str, port: int, backlog: int) -> list[socket.socket]:
    """Bound and listening sockets for every address ``host`` names, each joining the port's group."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _name, address in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:  # as asyncio does: an IPv6 listener takes IPv6 only
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class SharedPortSite:
    """An aiohttp runner's listeners on a port shared with the other workers; ``leave`` closes them
    without resetting a connection the kernel already gave them."""

    def __init__(
        self, runner: web.AppRunner, host: str, port: int, ssl_context: ssl.SSLContext | None = None, backlog=1024
    ):
        self._runner, self._host, self._port = runner, host, port
        self._ssl_context, self._backlog = ssl_context, backlog
        self._sockets: list[socket.socket] = []
        self._sites: list[web.SockSite] = []

    @property
    def sockets(self) -> list[socket.socket]:
        return list(self._sockets)

    async def start(self) -> None:
        self._sockets = shared_listeners(self._host, self._port, self._backlog)
        try:
            for sock in self._sockets:
                site = web.SockSite(self._runner, sock, ssl_context=self._ssl_context, backlog=self._backlog)
                self._sites.append(site)
                await site.start()
        except BaseException:
            await self.stop()
            raise

    async def leave(self, grace: float = HANDSHAKE_GRACE) -> None:
        loop = asyncio.get_running_loop()
        for sock in self._sockets:
            refuse_new_handshakes(sock)
        await asyncio.sleep(grace)
        deadline = loop.time() + QUEUE_WAIT
        while loop.time() < deadline and any(accept_queue_length(sock) for sock in self._sockets):
            await asyncio.sleep(POLL)
        await self.stop()

    async def stop(self) -> None:
        """Close at once (what ``leave`` ends with)."""
        sites, sockets, self._sites, self._sockets = self._sites, self._sockets, [], []
        for site in sites:
            await site.stop()  # closes its socket (asyncio and uvloop alike)
        for sock in sockets:
            sock.close()  # one whose site never started; a no-op for the others
