"""SIGHUP's TLS part: a renewed certificate is served to new connections, open ones keep working."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from contract.config import parse_config
from frontdoor.lifecycle import reload_tls, tls_context
from tests.support.ports import free_port


def write_certificate(directory: Path, common_name: str) -> int:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certificate.serial_number


async def open_tls(port: int):
    client = ssl.create_default_context()
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE  # we compare serials instead
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    return reader, writer, x509.load_der_x509_certificate(der).serial_number


async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    await reader.readexactly(2)  # "ok"
    return head.split(b"\r\n", 1)[0]


async def test_renewed_certificate_reaches_new_connections_without_dropping_open_ones(tmp_path: Path):
    first = write_certificate(tmp_path, "first")
    config = parse_config(
        {
            "service": {
                "ssl_enabled": True,
                "ssl_cert": str(tmp_path / "cert.pem"),
                "ssl_privkey": str(tmp_path / "key.pem"),
            }
        }
    )
    context = tls_context(config)
    app = web.Application()

    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    try:
        old_reader, old_writer, served = await open_tls(port)
        assert served == first and await ask(old_reader, old_writer) == b"HTTP/1.1 200 OK"

        second = write_certificate(tmp_path, "second")
        assert reload_tls(context, config)
        reader, writer, served = await open_tls(port)
        assert served == second and await ask(reader, writer) == b"HTTP/1.1 200 OK"
        # The connection opened before the reload is still up and still served.
        assert await ask(old_reader, old_writer) == b"HTTP/1.1 200 OK"

        # A broken renewal is refused and the current certificate stays.
        (tmp_path / "key.pem").write_text("not a key")
        assert not reload_tls(context, config)
        _, third_writer, served = await open_tls(port)
        assert served == second
        for stream in (old_writer, writer, third_writer):
            stream.close()
    finally:
        await runner.cleanup()
