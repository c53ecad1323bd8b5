"""Which peers may tell us the browser's address and scheme: addresses and networks (CIDR).

Behind an ingress the peer is one of many pod or node addresses, so operators name a network
(``10.0.0.0/8``); an exact-string match would trust none of them, every user would then share the
ingress's address and so one login rate limit.  Entries are validated at config load
(``contract.config``); here they are parsed once and matched per request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_entry(entry: str) -> Network:
    """One ``trusted_proxies`` entry: an address (a /32 or /128) or a network; ValueError names it."""
    text = entry.strip()
    try:
        # strict=False: "10.1.2.3/8" means the network around it, as operators tend to write it.
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"{entry!r} is neither an IP address nor a CIDR network") from None


class TrustedProxies:
    """A set of networks with ``address in proxies`` over address strings, as a frozenset was used."""

    def __init__(self, entries: Iterable[str] = ()):
        self._networks: tuple[Network, ...] = tuple(parse_entry(entry) for entry in entries)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str) or not self._networks:
            return False
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
        except ValueError:
            return False  # a hostname or garbage in X-Forwarded-For is never one of ours
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
        return any(ip.version == net.version and ip in net for net in self._networks)
