"""``webui-host sessions revoke USER``: end every session of a user, from the host itself.

It asks this host's session daemon over its ZeroMQ socket (so it needs the host's secrets directory:
run it as the user webui-host runs as).  Output is one JSON document.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from contract.config import Config, ConfigError
from contract.host_layout import ZMQ_KEY_FILE, session_daemon_endpoint
from service_runtime.config_file import load_config
from service_runtime.keyfiles import load_shared_key

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
TIMEOUT = 5.0


def register(commands: argparse._SubParsersAction) -> None:
    sessions = commands.add_parser("sessions", help="revoke every session of a user")
    actions = sessions.add_subparsers(dest="action", required=True)
    revoke = actions.add_parser("revoke", help="log a user out of every browser, on every front door")
    revoke.add_argument("user_id", help="the account name (e-mail) the user logs in with")
    revoke.add_argument("-f", "--config", type=Path, default=None, help="webui-host TOML file")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    try:
        import asyncio  # here: the launcher's other commands (run) need none of this module's imports

        revoked = asyncio.run(revoke_user(config, args.user_id))
    except (TimeoutError, OSError, ValueError) as exc:
        print(
            f"webui-host: the session daemon did not answer ({type(exc).__name__}); is the host running?",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(json.dumps({"user_id": args.user_id, "revoked": revoked}))
    return EXIT_OK


async def revoke_user(config: Config, user_id: str) -> int:
    # Imported here: the launcher's other commands need neither the ZeroMQ client nor prometheus-client.
    import zmq.asyncio

    from contract.session_commands import RevokeUser
    from contract.session_results import UserRevoked
    from frontdoor.daemon_client import SessionDaemonClient, SessionDaemonUnavailable
    from service_runtime.instruments import Instruments

    context = zmq.asyncio.Context()
    key = load_shared_key(config.secrets_dir / ZMQ_KEY_FILE)
    client = SessionDaemonClient(
        context,
        session_daemon_endpoint(config),
        key,
        config.zmq.max_message_age,
        instruments=Instruments("cli"),  # a one-shot command: what it counts is not exported
    )
    try:
        result = await client.call(RevokeUser(user_id), timeout=TIMEOUT)
    except SessionDaemonUnavailable:
        raise TimeoutError("no answer from the session daemon") from None
    finally:
        client.close()
        context.term()
    if not isinstance(result, UserRevoked):
        raise ValueError(f"refused: {type(result).__name__}")
    return result.count
