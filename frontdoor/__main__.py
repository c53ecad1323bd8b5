"""``python -m frontdoor -f CONFIG --worker N``: one front-door worker (workers share the port)."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

gc.disable()  # until the imports are done: service_runtime.process.imports_done
from frontdoor.lifecycle import Worker  # noqa: E402
from service_runtime.process import run_process  # noqa: E402


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="frontdoor", description=__doc__)
    parser.add_argument("-f", "--config", type=Path, default=None, help="webui-host TOML file")
    parser.add_argument("--worker", type=int, default=0, help="worker number (for logs and metric files)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)

    def build(process):
        return Worker(process, args.worker)

    return run_process("frontdoor", args.config, build, instance=args.worker)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
