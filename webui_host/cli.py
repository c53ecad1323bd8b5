"""``webui-host``: run the whole host under supervisord, render its conf, check a configuration.

    webui-host run [-f FILE] [--state-dir DIR]
    webui-host supervisord-conf [-f FILE] [--state-dir DIR] [--operator]
    webui-host check-config [-f FILE]
    webui-host prepare [-f FILE] [--state-dir DIR] [--operator]
    webui-host roll-signers [-f FILE] [--state-dir DIR] [-c SUPERVISORD_CONF] [--timeout S]
    webui-host roll-frontdoors [-f FILE] [--state-dir DIR] [-c SUPERVISORD_CONF] [--timeout S]
    webui-host groups|agents|deployments ... [-f FILE]   (Web API Groups, see --help)

Without -f the embedded default is used: webui-host's own Redis, etcd and (when nothing names a
Manager) the development Manager, all on loopback.  Configuration problems are all printed and the
exit status is 2; nothing is started.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import webui_host
from contract.config import ConfigError
from service_runtime.keyfiles import ensure_private_dir
from webui_host import (
    banner,
    host_checks,
    host_setup,
    leftovers,
    manager_choice,
    sessions_cli,
    stack,
    supervisor_wake,
    supervisord_conf,
    webapi_cli,
)

# Not imported here: ``roll`` and ``unreachable`` (asyncio, etcd records), loaded by the commands and
# the failure that need them, so ``run`` spends less of its serial time before supervisord on imports.

EXIT_CONFIG = 2
EXIT_ENVIRONMENT = 1


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--config",
        type=Path,
        default=None,
        help="webui-host TOML file (default: none, the embedded single-host setup)",
    )


def _add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="state directory (default: [runtime] state_dir of the file)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="webui-host", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {webui_host.version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="start everything in the foreground under supervisord")
    _add_config(run)
    _add_state_dir(run)

    conf = commands.add_parser("supervisord-conf", help="print the rendered supervisord.conf")
    _add_config(conf)
    _add_state_dir(conf)
    conf.add_argument(
        "--operator",
        action="store_true",
        help="the repository's variant: no embedded servers, paths relative to %%(here)s",
    )
    conf.add_argument(
        "--python",
        type=Path,
        default=None,
        help="with --operator: the interpreter to run (default %%(here)s/.venv/bin/python); "
        "e.g. /opt/webui-host/bin/python for a pip-installed package",
    )

    check = commands.add_parser("check-config", help="validate a configuration and print every problem")
    _add_config(check)
    check.add_argument(
        "--json",
        action="store_true",
        help='print {"ok": bool, "problems": [...]} on stdout (for CI and admission hooks)',
    )

    prep = commands.add_parser("prepare", help="create the state, secrets and ipc directories (0700)")
    _add_config(prep)
    _add_state_dir(prep)
    prep.add_argument(
        "--operator",
        action="store_true",
        help="also create .state/logs beside the operator's supervisord.conf: the directory of "
        "-f FILE, or --operator-dir",
    )
    prep.add_argument(
        "--operator-dir",
        type=Path,
        default=None,
        help="where the operator's supervisord.conf lives (default: the directory of -f FILE)",
    )
    for command, what, ready in (
        ("roll-signers", "signers", "Up"),
        ("roll-frontdoors", "front-door workers", "listening"),
    ):
        rolling = commands.add_parser(command, help=f"restart the {what} one by one, each {ready} before the next")
        _add_config(rolling)
        _add_state_dir(rolling)
        rolling.add_argument(
            "-c",
            "--supervisord-conf",
            type=Path,
            default=None,
            help="supervisord.conf (default: the state directory's, else the one beside -f FILE)",
        )
        rolling.add_argument("--timeout", type=float, default=30.0, help=f"seconds each may take to be {ready}")
    webapi_cli.register(commands)
    sessions_cli.register(commands)
    return parser


def _config_problems(exc: ConfigError) -> int:
    print("webui-host: invalid configuration:", file=sys.stderr)
    for problem in exc.problems:
        print(f"  - {problem}", file=sys.stderr)
    return EXIT_CONFIG


def _problems(problems: list[str], status: int, what: str = "cannot start") -> int:
    print(f"webui-host: {what}:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    return status


def cmd_check_config(args: argparse.Namespace) -> int:
    warnings: list[str] = []
    keys: dict[str, dict[str, str]] = {}
    try:
        setup = host_setup.resolve(args.config)
        problems = host_checks.check_problems(setup.config)
        warnings = setup.config.warnings
        keys = {note.path: {"kind": note.kind, "note": note.note} for note in setup.config.key_notes}
    except ConfigError as exc:
        problems = exc.problems
        keys = exc.keys
    if args.json:
        print(json.dumps({"ok": not problems, "problems": problems, "warnings": warnings, "keys": keys}))
        return EXIT_CONFIG if problems else 0
    for warning in warnings:
        print(f"warning: {warning}")
    if problems:
        return _config_problems(ConfigError(problems))
    print("ok")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    try:
        setup = host_setup.resolve(args.config, args.state_dir)
    except ConfigError as exc:
        return _config_problems(exc)
    operator_state = None
    if args.operator:
        # The operator conf keeps its state in %(here)s/.state, beside itself and webui-host.toml; never
        # beside the code (an installed package lives in site-packages, which is no place for state).
        base = args.operator_dir or (args.config.absolute().parent if args.config is not None else None)
        if base is None:
            return _problems(
                ["--operator needs -f FILE or --operator-dir DIR (where supervisord.conf lives)"],
                EXIT_CONFIG,
                "cannot prepare",
            )
        operator_state = base.absolute() / ".state"
    host_setup.prepare(setup)
    running = stack.supervisor_running(setup.state_dir) or (
        operator_state is not None and stack.supervisor_running(operator_state)
    )
    if not running:  # emptying it under running processes would lose their samples
        host_setup.reset_metrics(setup)
    if operator_state is not None:
        ensure_private_dir(operator_state)
        ensure_private_dir(operator_state / "logs")
    print(f"prepared {setup.state_dir}")
    return 0


def cmd_supervisord_conf(args: argparse.Namespace) -> int:
    if args.operator:
        if args.state_dir is not None:
            print("webui-host: --state-dir has no effect with --operator (it uses %(here)s/.state)", file=sys.stderr)
            return EXIT_CONFIG
        try:
            setup = host_setup.resolve(args.config)
        except ConfigError as exc:
            return _config_problems(exc)
        python = args.python.absolute() if args.python is not None else None
        sys.stdout.write(supervisord_conf.render_operator_conf(setup.config, python))
        return 0
    prepared = _prepare_host(args)
    if isinstance(prepared, int):
        return prepared
    setup, choice = prepared
    text = supervisord_conf.render_host_conf(setup, choice)
    supervisord_conf.write_supervisord_conf(setup, text)
    sys.stdout.write(text)
    return 0


def _prepare_host(args: argparse.Namespace, *, check_ports: bool = False):
    """Resolve, check, prepare and decide; an int is the exit status of a failure."""
    try:
        setup = host_setup.resolve(args.config, args.state_dir)
    except ConfigError as exc:
        return _config_problems(exc)
    problems = host_checks.check_problems(setup.config)
    if problems:
        return _config_problems(ConfigError(problems))
    if check_ports:
        if stack.supervisor_running(setup.state_dir):
            conf = setup.state_dir / supervisord_conf.CONF_FILE
            return _problems(
                [
                    f"webui-host already runs with state in {setup.state_dir}",
                    f"stop it with: {stack.supervisorctl_path()} -c {conf} shutdown",
                ],
                EXIT_ENVIRONMENT,
            )
        _reap_leftovers(setup.state_dir)
        busy = host_checks.busy_ports(host_checks.listen_ports(setup.config, devstack=False))
        if busy:
            return _problems(busy, EXIT_ENVIRONMENT)
    try:
        host_setup.prepare(setup)
        choice = manager_choice.decide_manager(setup)
    except ConfigError as exc:  # etcd's config/global does not validate over the file
        return _config_problems(exc)
    if check_ports and choice.devstack:
        busy = host_checks.busy_ports({"devstack": ("127.0.0.1", setup.config.embedded.manager_port)})
        if busy:
            return _problems(busy, EXIT_ENVIRONMENT)
    return setup, choice


def cmd_roll_signers(args: argparse.Namespace) -> int:
    from webui_host import roll

    return _roll(
        args,
        "signers",
        lambda config, supervisor: roll.roll(config, supervisor, supervisord_conf.SIGNER_GROUP, args.timeout),
    )


def cmd_roll_frontdoors(args: argparse.Namespace) -> int:
    from webui_host import roll

    return _roll(
        args,
        "front doors",
        lambda config, supervisor: roll.roll_frontdoors(config, supervisor, "frontdoor", args.timeout),
    )


def _roll(args: argparse.Namespace, what: str, rolling) -> int:
    from webui_host import roll

    try:
        setup = host_setup.resolve(args.config, args.state_dir)
    except ConfigError as exc:
        return _config_problems(exc)
    conf = args.supervisord_conf or setup.state_dir / supervisord_conf.CONF_FILE
    if not conf.exists() and args.supervisord_conf is None and args.config is not None:
        conf = args.config.absolute().parent / "supervisord.conf"  # the operator's, beside its webui-host.toml
    if not conf.exists():
        return _problems(
            [f"no supervisord.conf at {conf}: name the operator's with -c"], EXIT_ENVIRONMENT, f"cannot roll the {what}"
        )
    supervisor = roll.Supervisor(stack.supervisorctl_path(), conf)
    try:
        count = rolling(setup.config, supervisor)
    except roll.RollFailed as exc:
        return _problems([str(exc)], EXIT_ENVIRONMENT, f"rolling the {what} stopped")
    print(f"rolled {count} {what}")
    return 0


def _reap_leftovers(state_dir: Path) -> None:
    """A previous run that died (kill -9) may have left programs behind: stop them first."""
    pids = leftovers.find_leftovers(state_dir)
    if pids:
        print(f"webui-host: stopping {len(pids)} processes a previous run left in {state_dir}", file=sys.stderr)
        leftovers.reap(pids)


def cmd_run(args: argparse.Namespace) -> int:
    prepared = _prepare_host(args, check_ports=True)
    if isinstance(prepared, int):
        return prepared
    setup, choice = prepared
    host_setup.reset_metrics(setup)  # a fresh start: no samples of processes that no longer exist
    conf_path = supervisord_conf.write_supervisord_conf(setup, supervisord_conf.render_host_conf(setup, choice))
    sys.stdout.write(banner.banner(setup, choice, conf_path))
    sys.stdout.flush()
    sys.stderr.flush()
    argv = stack.supervisord_argv(conf_path)
    supervisor_wake.spawn_waker(setup.state_dir / supervisord_conf.SOCKET_FILE)  # spares its first 1 s poll
    os.execv(argv[0], argv)
    return 0  # pragma: no cover - execv does not return


COMMANDS = {
    "run": cmd_run,
    "supervisord-conf": cmd_supervisord_conf,
    "check-config": cmd_check_config,
    "prepare": cmd_prepare,
    "roll-signers": cmd_roll_signers,
    "roll-frontdoors": cmd_roll_frontdoors,
    "groups": webapi_cli.run,
    "agents": webapi_cli.run,
    "deployments": webapi_cli.run,
    "sessions": sessions_cli.run,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - only an unreachable server is turned into one line
        from webui_host import unreachable

        line = unreachable.describe(exc, getattr(args, "config", None))
        if line is None:
            raise
        print(f"webui-host: {line}", file=sys.stderr)
        return unreachable.EXIT_UNREACHABLE


if __name__ == "__main__":
    sys.exit(main())
