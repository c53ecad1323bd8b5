"""The floor of a signing hop: a minimal signer for ``bench/floor_proxy.py --signer``.

A ZeroMQ ROUTER bound on ``ipc://`` (the socket kind and transport of our signers), read in a plain
blocking loop: each message ``[identity, request id, text]`` is answered ``[identity, request id,
JSON]`` with one HMAC-SHA256 of the text.  No envelope, no sealing, no key lookup, no logging or
metrics: what any signer on this transport costs at least.

Usage: python -m bench.floor_signer --endpoint ipc:///tmp/x.sock
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import signal
import sys

import zmq

KEY = b"floor-signer-bench-key"  # worth nothing anywhere


def answer(text: bytes) -> bytes:
    """The reply's body for one text: its HMAC-SHA256, hex, in a small JSON document."""
    return json.dumps({"signature": hmac.new(KEY, text, hashlib.sha256).hexdigest()}).encode()


def serve(endpoint: str) -> None:
    context = zmq.Context()
    socket = context.socket(zmq.ROUTER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.bind(endpoint)
    send, receive = socket.send_multipart, socket.recv_multipart
    while True:
        identity, request_id, text = receive()
        send([identity, request_id, answer(text)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # the blocking receive is interrupted by it
    serve(args.endpoint)


if __name__ == "__main__":
    main()
