"""The rendered supervisord.conf, read back by supervisor's own parser."""

from __future__ import annotations

import io
import shlex
import signal
import subprocess
import sys
import tomllib
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from supervisor.datatypes import RestartUnconditionally
from supervisor.options import ClientOptions, ServerOptions

from contract.config import Config, parse_config
from tests.support.paths import REPO_ROOT
from webui_host import cli, conf_values, host_checks, host_setup, manager_choice, supervisord_conf, toml_writer

SIGNERS = "signers"


def parse_conf(text: str, where: Path) -> ServerOptions:
    path = where / "supervisord.conf"
    path.write_text(text)
    options = ServerOptions()
    options.configfile = str(path)
    options.process_config(do_usage=False)
    return options


def groups(options: ServerOptions) -> dict:
    return {group.name: group for group in options.process_group_configs}


def processes(options: ServerOptions) -> dict:
    return {
        f"{group.name}:{proc.name}": proc for group in options.process_group_configs for proc in group.process_configs
    }


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = cli.main(list(argv))
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def operator_dir(tmp_path: Path) -> Path:
    (tmp_path / ".state" / "logs").mkdir(parents=True)
    return tmp_path


def host_conf(tmp_path: Path, raw_toml: str | None = None, *, devstack: bool = True) -> tuple[host_setup.Setup, str]:
    config_path = None
    if raw_toml is not None:
        config_path = tmp_path / "webui-host.toml"
        config_path.write_text(raw_toml)
    setup = host_setup.resolve(config_path, tmp_path / "state")
    host_setup.prepare(setup)
    choice = manager_choice.ManagerChoice("devstack" if devstack else "file", [setup.config.devstack_endpoint])
    return setup, supervisord_conf.render_host_conf(setup, choice, cwd=tmp_path)


# ---------------------------------------------------------------------------------------------
# The operator variant (the repository's supervisord.conf)


def test_committed_supervisord_conf_is_a_fresh_operator_rendering():
    status, out, _ = run_cli("supervisord-conf", "--operator")
    assert status == 0
    committed = (REPO_ROOT / "supervisord.conf").read_text()
    assert committed == out, "re-render: .venv/bin/webui-host supervisord-conf --operator > supervisord.conf"


def test_operator_conf_parses_and_names_no_embedded_server(operator_dir: Path):
    options = parse_conf(supervisord_conf.render_operator_conf(), operator_dir)
    assert set(groups(options)) == {"session_daemon", SIGNERS, "frontdoor"}
    assert set(processes(options)) == {
        "session_daemon:session_daemon",
        "signers:signer_00",
        "signers:signer_01",
        "frontdoor:frontdoor_00",
        "frontdoor:frontdoor_01",
    }
    here = str(operator_dir)
    for proc in processes(options).values():
        argv = shlex.split(proc.command)
        assert argv[0] == f"{here}/.venv/bin/python"
        assert argv[argv.index("-f") + 1] == f"{here}/webui-host.toml"
        assert proc.directory == here
        assert proc.stdout_logfile.startswith(f"{here}/.state/logs/")
    assert options.nodaemon is False
    assert options.pidfile == f"{here}/.state/supervisord.pid"
    (server,) = options.configroot.supervisord.server_configs
    assert server["file"] == f"{here}/.state/supervisor.sock"
    assert server["chmod"] == 0o700
    assert "%(here)s" not in "".join(p.command for p in processes(options).values())


def test_operator_conf_follows_the_file_counts(operator_dir: Path):
    config = parse_config({"signers": {"count": 4, "group": "GPU"}, "service": {"workers": 3}})
    options = parse_conf(supervisord_conf.render_operator_conf(config), operator_dir)
    names = set(processes(options))
    assert {f"signers:signer_0{i}" for i in range(4)} <= names
    assert {f"frontdoor:frontdoor_0{i}" for i in range(3)} <= names
    assert processes(options)["signers:signer_03"].environment["WEBAPI_GROUP_NAME"] == "GPU"


def test_operator_with_state_dir_is_refused(tmp_path: Path):
    status, out, err = run_cli("supervisord-conf", "--operator", "--state-dir", str(tmp_path))
    assert status == 2 and out == "" and "--state-dir" in err


# ---------------------------------------------------------------------------------------------
# The host variant (`webui-host run`)


def test_embedded_default_runs_every_program_in_order(tmp_path: Path):
    setup, text = host_conf(tmp_path)
    options = parse_conf(text, tmp_path)
    by_group = groups(options)
    assert set(by_group) == {"redis", "etcd", "devstack", "session_daemon", SIGNERS, "frontdoor"}
    prio = {name: group.priority for name, group in by_group.items()}
    servers = max(prio["redis"], prio["etcd"], prio["devstack"])
    assert servers < prio["session_daemon"] <= prio[SIGNERS] < prio["frontdoor"]
    assert servers < min(prio["session_daemon"], prio[SIGNERS])
    assert prio["frontdoor"] == max(prio.values())

    procs = processes(options)
    assert set(procs) == {
        "redis:redis",
        "etcd:etcd",
        "devstack:devstack",
        "session_daemon:session_daemon",
        "signers:signer_00",
        "signers:signer_01",
        "frontdoor:frontdoor_00",
        "frontdoor:frontdoor_01",
    }
    assert options.nodaemon is True
    assert options.pidfile == str(setup.state_dir / "supervisord.pid")
    assert options.logfile == str(setup.state_dir / "logs" / "supervisord.log")
    (server,) = options.configroot.supervisord.server_configs
    assert server["file"] == str(setup.state_dir / "supervisor.sock") and server["chmod"] == 0o700
    assert server["username"] and server["password"]  # no unauthenticated-server CRIT line
    ctl = ClientOptions()
    ctl.configfile = str(tmp_path / "supervisord.conf")
    ctl.process_config(do_usage=False)
    assert ctl.serverurl == f"unix://{setup.state_dir / 'supervisor.sock'}"
    assert (ctl.username, ctl.password) == (server["username"], server["password"])


def test_program_settings(tmp_path: Path):
    setup, text = host_conf(tmp_path)
    procs = processes(parse_conf(text, tmp_path))
    for name, proc in procs.items():
        assert proc.autorestart is RestartUnconditionally, name
        assert proc.startsecs == 1
        assert proc.stopsignal == 15
        assert proc.stopwaitsecs == (30 if name.startswith("frontdoor:") else 10), name
        assert proc.stopasgroup and proc.killasgroup
        assert proc.redirect_stderr
        assert proc.stdout_logfile == str(setup.state_dir / "logs" / f"{proc.name}.log")
        assert proc.stdout_logfile_maxbytes == 50 * 1024 * 1024
        assert proc.stdout_logfile_backups == 5
        assert proc.environment["PYTHONUNBUFFERED"] == "1"
        assert proc.directory == str(tmp_path)


def program_argv(command: str) -> list[str]:
    """The program's own command line, after the guard that makes it die with supervisord."""
    argv = shlex.split(command)
    if argv[1:3] == ["-I", "-S"]:  # webui-host run's conf: the wrapper by its file
        assert argv[3].endswith("webui_host/parent_bound.py"), argv
    else:
        assert argv[1:3] == ["-m", "webui_host.parent_bound"], argv
    return argv[argv.index("--") + 1 :]  # after the wrapper's own options (the later workers' wait)


def test_the_run_conf_starts_the_wrapper_isolated_and_without_site(tmp_path: Path):
    # Eight programs start through the wrapper at every start; without site-packages (-S) each
    # interpreter start costs ~15-25 ms less CPU, and the wrapper still arms the death signal.
    _, text = host_conf(tmp_path)
    command = processes(parse_conf(text, tmp_path))["signers:signer_00"].command
    guard = shlex.split(command)[:4] + ["--"]
    assert guard[1:3] == ["-I", "-S"], guard
    read_signal = (
        "import ctypes; v = ctypes.c_int(); ctypes.CDLL(None).prctl(2, ctypes.byref(v), 0, 0, 0); print(v.value)"
    )
    done = subprocess.run([*guard, sys.executable, "-c", read_signal], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(int(signal.SIGTERM))


def wrapper_options(command: str) -> list[str]:
    """The wrapper's own options (between its name and ``--``)."""
    argv = shlex.split(command)
    return argv[4 if argv[1:3] == ["-I", "-S"] else 3 : argv.index("--")]


def test_later_workers_of_both_pools_wait_for_a_listening_front_door(tmp_path: Path, operator_dir: Path):
    # The first answer needs one front door and one signer: worker 1, 2, ... of either pool start once a
    # front door listens, which it does only once a signer is connected to it.
    setup, text = host_conf(tmp_path, "[service]\nworkers = 3\nport = 8100\n[signers]\ncount = 2\n")
    options = {name: wrapper_options(proc.command) for name, proc in processes(parse_conf(text, tmp_path)).items()}
    front_door = "tcp-connect:127.0.0.1:8100"
    assert options["signers:signer_00"] == ["--worker", "0", "--after", front_door]
    assert options["signers:signer_01"] == ["--worker", "1", "--after", front_door]
    assert options["frontdoor:frontdoor_02"] == ["--worker", "2", "--after", front_door]
    for name in ("redis:redis", "etcd:etcd", "devstack:devstack", "session_daemon:session_daemon"):
        assert options[name] == [], name
    # The operator's conf: the same target for both pools, its front door's port.
    operator = processes(parse_conf(supervisord_conf.render_operator_conf(), tmp_path))
    port = parse_config({}).service.port
    for name in ("signers:signer_01", "frontdoor:frontdoor_01"):
        assert wrapper_options(operator[name].command)[-1] == f"tcp-connect:127.0.0.1:{port}", name


def test_a_later_front_door_looks_over_loopback_when_the_front_door_listens_everywhere():
    def address(ip: str) -> str:
        return supervisord_conf.frontdoor_address(parse_config({"service": {"ip": ip, "port": 8090}}))

    assert address("0.0.0.0") == "127.0.0.1:8090"
    assert address("::") == "[::1]:8090"
    assert address("10.1.2.3") == "10.1.2.3:8090"
    assert address("fd00::5") == "[fd00::5]:8090"


def test_commands(tmp_path: Path):
    setup, text = host_conf(tmp_path)
    procs = processes(parse_conf(text, tmp_path))
    argv = {name: program_argv(proc.command) for name, proc in procs.items()}
    assert argv["redis:redis"][1:] == [str(setup.state_dir / "redis" / "redis.conf")]
    assert argv["redis:redis"][0].endswith("redis-server")
    assert argv["etcd:etcd"][0].endswith("etcd")
    assert argv["etcd:etcd"][argv["etcd:etcd"].index("--data-dir") + 1] == str(setup.state_dir / "etcd")
    assert argv["etcd:etcd"][argv["etcd:etcd"].index("--listen-client-urls") + 1] == "http://127.0.0.1:8121"
    assert argv["devstack:devstack"][1:] == ["-m", "devstack", "--host", "127.0.0.1", "--port", "8091"]
    # --state-dir was given, so the processes read the effective file that carries it.
    effective = str(setup.state_dir / "webui-host.toml")
    assert argv["session_daemon:session_daemon"][1:] == ["-m", "session_daemon", "-f", effective]
    assert argv["signers:signer_01"][1:] == ["-m", "signer_worker", "-f", effective, "--index", "1"]
    assert argv["frontdoor:frontdoor_00"][1:] == ["-m", "frontdoor", "-f", effective, "--worker", "0"]
    assert procs["signers:signer_00"].environment["WEBAPI_GROUP_NAME"] == "DEFAULT"
    assert "WEBAPI_GROUP_NAME" not in procs["frontdoor:frontdoor_00"].environment


def test_embedded_default_without_state_dir_passes_no_config(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    setup = host_setup.resolve(None)
    assert setup.state_dir == tmp_path / "xdg" / "webui-host" and setup.process_config_path is None
    host_setup.prepare(setup)
    text = supervisord_conf.render_host_conf(setup, manager_choice.ManagerChoice("devstack", []), cwd=tmp_path)
    procs = processes(parse_conf(text, tmp_path))
    assert program_argv(procs["signers:signer_00"].command)[1:] == ["-m", "signer_worker", "--index", "0"]
    assert not (setup.state_dir / "webui-host.toml").exists()


def test_named_servers_start_no_embedded_ones(tmp_path: Path):
    raw = """
[api]
endpoint = "http://10.0.0.1:8081"
[session.redis]
addr = "10.0.0.2:6379"
[etcd]
addr = "10.0.0.3:2379"
[signers]
count = 3
group = "GPU-A"
[service]
workers = 1
[runtime]
state_dir = "%s"
""" % (tmp_path / "state")
    setup, text = host_conf(tmp_path, raw, devstack=False)
    assert setup.process_config_path == tmp_path / "webui-host.toml"  # the file itself: no override needed
    options = parse_conf(text, tmp_path)
    assert set(groups(options)) == {"session_daemon", SIGNERS, "frontdoor"}
    procs = processes(options)
    assert {"signers:signer_00", "signers:signer_01", "signers:signer_02", "frontdoor:frontdoor_00"} <= set(procs)
    assert "frontdoor:frontdoor_01" not in procs
    assert procs["signers:signer_02"].environment["WEBAPI_GROUP_NAME"] == "GPU-A"
    assert not (setup.state_dir / "redis").exists()


def test_percent_in_paths_is_literal(tmp_path: Path):
    odd = tmp_path / "100% sure"
    odd.mkdir()
    (odd / "c.toml").write_text(f'[runtime]\nstate_dir = "{tmp_path / "s"}"\n')
    setup = host_setup.resolve(odd / "c.toml")
    host_setup.prepare(setup)
    text = supervisord_conf.render_host_conf(setup, manager_choice.ManagerChoice("file", ["http://m"]), cwd=odd)
    options = parse_conf(text, tmp_path)
    proc = processes(options)["signers:signer_00"]
    assert program_argv(proc.command)[4] == str(odd / "c.toml")
    assert proc.directory == str(odd)


def test_percent_in_state_dir_is_a_problem(tmp_path: Path):
    setup = host_setup.resolve(None, tmp_path / "50%")
    assert any("'%'" in problem for problem in host_checks.check_problems(setup.config))


def test_unwritable_values_are_refused():
    with pytest.raises(ValueError):
        conf_values.conf_text("/tmp/a\nb")
    with pytest.raises(ValueError):
        conf_values.conf_text("/tmp/a ;comment")
    with pytest.raises(ValueError):
        conf_values.conf_environment({"WEBAPI_GROUP_NAME": 'a"b'})


# ---------------------------------------------------------------------------------------------
# --state-dir, the effective file, and the CLI's handling of bad files


def test_effective_config_keeps_the_file_and_replaces_state_dir(tmp_path: Path):
    source = tmp_path / "in.toml"
    source.write_text(
        '[service]\nport = 9000\ntrusted-proxies = "10.0.0.1, 10.0.0.2"\n'
        '[api]\ntext = "Quote \\" and \\\\ and é"\nconnect_timeout = 2.5\n'
        '[runtime]\nstate_dir = "/elsewhere"\nlog_format = "text"\n'
        "[extra]\nkept = [1, 2]\n"
    )
    setup = host_setup.resolve(source, tmp_path / "st")
    host_setup.prepare(setup)
    written = tomllib.loads((tmp_path / "st" / "webui-host.toml").read_text())
    original = tomllib.loads(source.read_text())
    assert written["runtime"]["state_dir"] == str(tmp_path / "st")
    written["runtime"]["state_dir"] = original["runtime"]["state_dir"]
    assert written == {k: ({kk.replace("-", "_"): vv for kk, vv in v.items()}) for k, v in original.items()}
    config = setup.config
    assert isinstance(config, Config) and config.service.port == 9000
    assert config.runtime.state_dir == tmp_path / "st"
    assert config.secrets_dir == tmp_path / "st" / "secrets"
    assert config.embeds_redis and config.embeds_etcd  # replacing state_dir names no server


def test_dump_toml_round_trips():
    data = {"a": 1, "b": {"c": [1.5, "x"], "d": {"e": True, "f": "\x7f\n\t"}}, "g h": {}}
    assert tomllib.loads(toml_writer.dump_toml(data)) == data


def test_check_config_prints_every_problem(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[service]\nport = 0\nworkers = "x"\n[api]\nendpoint = "ftp://m"\n[signers]\nfoo = 1\n')
    status, out, err = run_cli("check-config", "-f", str(bad))
    assert status == 2 and out == ""
    for key in ("service.port", "service.workers", "api.endpoint", "signers.foo"):
        assert key in err


def test_check_config_reports_host_problems(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[service]\nport = 8111\nstatic_path = "{tmp_path / "missing"}"\n')
    status, _, err = run_cli("check-config", "-f", str(bad))
    assert status == 2
    assert "static_path" in err and "8111" in err


def test_check_config_ok_and_missing_file(tmp_path: Path):
    assert run_cli("check-config", "-f", str(REPO_ROOT / "webui-host.toml.example"))[:2] == (0, "ok\n")
    status, _, err = run_cli("check-config", "-f", str(tmp_path / "nope.toml"))
    assert status == 2 and "nope.toml" in err


def test_run_with_a_bad_file_starts_nothing(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[service]\nport = -1\n")
    status, out, err = run_cli("run", "-f", str(bad), "--state-dir", str(tmp_path / "state"))
    assert status == 2 and "service.port" in err and out == ""
    assert not (tmp_path / "state").exists()


def test_example_file_documents_every_key():
    text = (REPO_ROOT / "webui-host.toml.example").read_text()
    config = parse_config(tomllib.loads(text))
    assert not config.embeds_redis and not config.embeds_etcd and config.api.endpoint

    def walk(model, prefix=""):
        for name, field in model.FIELDS.items():
            if field.model is not None:
                assert f"[{prefix}{name}]" in text
                yield from walk(field.model, f"{prefix}{name}.")
            else:
                yield name, field.description

    for name, description in walk(Config):
        assert f"{name} = " in text, name
        assert description.rstrip(".").split(" (")[0].split(":")[0] in text, (name, description)
