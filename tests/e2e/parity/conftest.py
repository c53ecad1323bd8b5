"""One real stack for the Backend.AI parity suites, configured as an operator moving from Backend.AI's
webserver would: HTTPS with an HTTP redirect port, published host names (``[service] public_hosts``),
a bundle of its own (``static_path``, ``mode = "webui"``), Backend.AI's request and response
policies, and a ``[security.csp]`` table naming a wsproxy on another origin.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from tests.support.https_stack import HttpsStack

PUBLIC_HOSTS = ["webui.example.com", "api.example.com:9443"]
WSPROXY = "https://wsproxy.example.com:5050"
BUNDLE_INDEX = "<!doctype html><title>bundle</title><script>window.x=1</script>"


def write_bundle(root: Path) -> Path:
    """A small stand-in for the Web UI bundle: an index with an inline script, a script and a style."""
    (root / "dist" / "components").mkdir(parents=True)
    (root / "index.html").write_text(BUNDLE_INDEX)
    (root / "dist" / "components" / "backend-ai-webui.js").write_text("console.log(1)")
    (root / "app.css").write_text("body{}")
    return root


@pytest.fixture(scope="package")
def parity_stack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("parity")
    bundle = write_bundle(directory / "bundle")
    hosts = ", ".join(f'"{h}"' for h in PUBLIC_HOSTS)
    stack = HttpsStack(
        directory,
        service_extra=f'public_hosts = [{hosts}]\nstatic_path = "{bundle}"\nmode = "webui"',
        security=(
            'request_policies = ["reject_metadata_local_link_policy", "reject_access_for_unsafe_file_policy"]\n'
            'response_policies = ["set_content_type_nosniff_policy"]\n'
        ),
        extra_config=(
            f'\n[security.csp]\ndefault-src = ["\'self\'"]\nconnect-src = ["\'self\'", "{WSPROXY}"]\n'
            f'font-src = ["\'self\'", "data:"]\n'
        ),
    )
    stack.start()
    yield stack
    stack.stop()


async def raw_exchange(stack, request: bytes, *, tls: bool = True, port: int | None = None) -> tuple[int, dict, bytes]:
    """Send ``request`` byte for byte; (status, lower-cased headers, body) of the answer."""
    port = port or stack.ports.frontdoor
    if tls:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=stack.tls_context(), server_hostname="127.0.0.1"
        )
    else:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    chunks = []
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), 10):
            chunks.append(chunk)
    except (ConnectionResetError, ssl.SSLError):
        pass
    writer.close()
    answer = b"".join(chunks)
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = (
            value.strip()
            if name.strip().lower() not in headers
            else (headers[name.strip().lower()] + ", " + value.strip())
        )
    return int(lines[0].split(" ", 2)[1]), headers, body
