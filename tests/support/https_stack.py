"""A real stack serving HTTPS as production would: a loopback certificate (its own trust anchor) and
an HTTP port that redirects to HTTPS.  The parity and security suites each start one."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest

from tests.support.ports import free_port
from tests.support.stack import RunningStack
from tests.support.tls import write_loopback_certificate


class HttpsStack(RunningStack):
    """``service_extra`` and ``security``: more TOML lines for [service] and [security];
    ``extra_config``: tables after those (e.g. ``[security.csp]``)."""

    def __init__(
        self,
        directory: Path,
        *,
        service_extra: str = "",
        security: str = "",
        extra_config: str = "",
        **options,
    ):
        self.cert, key = write_loopback_certificate(directory)
        self.redirect_port = free_port()
        super().__init__(
            directory,
            service_extra=f'ssl_enabled = true\nssl_cert = "{self.cert}"\nssl_privkey = "{key}"\n{service_extra}',
            extra_config=f"\n[security]\nhttp_redirect_port = {self.redirect_port}\n{security}\n{extra_config}",
            **options,
        )
        self.base_url = f"https://127.0.0.1:{self.ports.frontdoor}"

    def wait_until_serving(self, timeout: float = 30.0) -> None:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SSL_CERT_FILE", str(self.cert))  # the readiness probe (urllib) trusts our certificate
            super().wait_until_serving(timeout)

    def tls_context(self) -> ssl.SSLContext:
        """What a browser that trusts our certificate checks the front door with."""
        return ssl.create_default_context(cafile=str(self.cert))

    def client(self, *, new_connection_each_time: bool = False) -> aiohttp.ClientSession:
        """A browser-like client of the HTTPS listener (its own cookie jar)."""
        connector = aiohttp.TCPConnector(ssl=self.tls_context(), force_close=new_connection_each_time)
        return aiohttp.ClientSession(self.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True), connector=connector)
