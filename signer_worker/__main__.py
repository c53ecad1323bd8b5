"""``python -m signer_worker -f CONFIG --index N``: one signer of the pool (a Web API Agent)."""

from __future__ import annotations

import argparse
import gc
import os
import re
import socket
import sys
from pathlib import Path

gc.disable()  # until the imports are done: service_runtime.process.imports_done
from service_runtime.process import Process, run_process  # noqa: E402
from signer_worker.service import SignerService  # noqa: E402


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="signer_worker", description=__doc__)
    parser.add_argument("-f", "--config", type=Path, default=None, help="webui-host TOML file")
    parser.add_argument("--index", type=int, default=0, help="position in this host's pool")
    parser.add_argument("--agent-id", default=None, help="unique agent id (default: <hostname>-signer-<index>)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    agent_id = args.agent_id or f"{socket.gethostname()}-signer-{args.index}"
    group = os.environ.get("WEBAPI_GROUP_NAME", "DEFAULT")

    def build(process: Process) -> SignerService:
        return SignerService(
            process.settings,
            agent_id,
            group,
            instruments=process.instruments,
            stopping=process.stopping,
            tracing=process.tracing,
            on_reload=process.on_reload,
            resources=process.resources,
            on_start_failure=process.fail,
        )

    # Metric files are named per instance: an agent started by hand with --agent-id must not share
    # (and delete) the files of the pool's signer with the same index.
    instance = re.sub(r"[^a-z0-9.-]", "-", args.agent_id.lower())[:40] if args.agent_id else args.index
    return run_process("signer_worker", args.config, build, instance=instance)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
