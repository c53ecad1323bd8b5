"""CPU of the signing hop's message work per message, without sockets: each stage timed on its own.

Stages, in a request's order: the front door builds and seals a message of k signing items
(``front_seal``); a signer opens it (``signer_open``), answers every item as ``SignerService.handle``
does with every keypair cached and counts the answers as ``SignerService.answered`` does
(``signer_handle``), and seals the replies (``signer_seal``); the front door opens them
(``front_open``) and reads each reply item (``front_reply``).  Printed per k: the best of ``--repeat``
runs, in CPU microseconds per message.  To compare two trees, run it alternately from each (``cd
<tree>``: the current directory comes first on the path), best of several: the machine is shared.

Usage: .venv/bin/python -m bench.hop_codec [--sizes 1,8] [--messages 4000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import time

from contract.messages import MessageOpener, MessageSealer, ReplayGuard
from contract.redis_layout import session_hash
from contract.requests import SigningReply, SigningRequest
from service_runtime.instruments import Instruments
from service_runtime.tracing import NO_TRACING
from signer_worker.deployments import SigningPlan
from signer_worker.service import SignerService
from signer_worker.signing import Keypair

KEY = bytes(range(32))
REQUEST = SigningRequest(
    0,
    "s" * 43,
    "GET",
    "/func/auth?echo=bench",
    "127.0.0.1:8091",
    "application/json",
    "v8.20240315",
    request_id="0123456789abcdef0123456789abcdef",
)


class _Keypairs:
    """The signer's cache as the fast path sees it: the session's hash looked up in memory."""

    def __init__(self, keypair: Keypair):
        self._by_hash = {session_hash(REQUEST.session_id): keypair}

    def cached(self, session_id: str) -> Keypair | None:
        return self._by_hash.get(session_hash(session_id))


def signer() -> SignerService:
    """A SignerService with only what ``handle`` touches (no sockets, Redis or etcd)."""
    service = SignerService.__new__(SignerService)
    service.agent_id = "signer-bench"
    service._signatures = Instruments().signatures
    service._signed = service._signatures.labels(service.agent_id, "signed")
    service._tracing = NO_TRACING
    service._started = {}
    service._plan = SigningPlan(manager_hosts=frozenset({REQUEST.host}))
    service.cache = _Keypairs(Keypair("AKIA" + "x" * 16, "y" * 40))
    return service


def answer(service: SignerService, envelope) -> list:
    """The reply items, counted as the signer counts them (after sending, in ``answered``)."""
    replies = service.handle(envelope)
    service.answered(envelope, replies)
    return replies


def timed(run, count: int) -> float:
    """CPU microseconds per call (the process's CPU time: less disturbed by a busy machine than the clock)."""
    started = time.process_time()
    run(count)
    return (time.process_time() - started) / count * 1e6


def measure(size: int, messages: int) -> dict[str, float]:
    front_sealer, front_opener = MessageSealer(KEY, 10.0), MessageOpener(KEY, 10.0, ReplayGuard(10**7))
    signer_sealer, signer_opener = MessageSealer(KEY, 10.0), MessageOpener(KEY, 10.0, ReplayGuard(10**7))
    service = signer()
    item = REQUEST.to_item()
    requests = [front_sealer.seal("sign", [{**item, "rid": rid} for rid in range(size)]) for _ in range(messages)]
    envelopes = [signer_opener.open(frames) for frames in requests]
    answers = [service.handle(envelope) for envelope in envelopes]
    replies = [signer_sealer.seal("sign", answer) for answer in answers]
    opened = [front_opener.open(frames) for frames in replies]
    fresh_signer, fresh_front = (
        MessageOpener(KEY, 10.0, ReplayGuard(10**7)),
        MessageOpener(KEY, 10.0, ReplayGuard(10**7)),
    )
    return {
        "front_seal": timed(
            lambda n: [
                front_sealer.seal("sign", [{**REQUEST.to_item(), "rid": rid} for rid in range(size)]) for _ in range(n)
            ],
            messages,
        ),
        "signer_open": timed(lambda n: [fresh_signer.open(requests[i]) for i in range(n)], messages),
        "signer_handle": timed(lambda n: [answer(service, envelopes[i]) for i in range(n)], messages),
        "signer_seal": timed(lambda n: [signer_sealer.seal("sign", answers[i]) for i in range(n)], messages),
        "front_open": timed(lambda n: [fresh_front.open(replies[i]) for i in range(n)], messages),
        "front_reply": timed(
            lambda n: [[SigningReply.from_item(reply) for reply in opened[i].items] for i in range(n)], messages
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,8", help="items per message, comma-separated")
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for size in [int(size) for size in args.sizes.split(",")]:
        runs = [measure(size, args.messages) for _ in range(args.repeat)]
        best = {stage: round(min(run[stage] for run in runs), 2) for stage in runs[0]}
        best["total"] = round(sum(best.values()), 2)
        print(json.dumps({"items": size, "us_per_message": best}))


if __name__ == "__main__":
    main()
