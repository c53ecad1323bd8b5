"""Release hygiene of the CLI: --version, check-config --json, prepare --operator's target, and one line
(no traceback) with exit status 1 for an unreachable etcd or Redis, in every command."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.support.ports import free_ports
from webui_host import cli, roll

VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def down_config(tmp_path: Path) -> Path:
    """A file naming an etcd and a Redis on loopback ports where nothing listens."""
    etcd_port, redis_port = free_ports(2)
    path = tmp_path / "down.toml"
    path.write_text(f"""
[api]
endpoint = ["http://127.0.0.1:9"]
[etcd]
addr = "127.0.0.1:{etcd_port}"
[session.redis]
addr = "127.0.0.1:{redis_port}"
[runtime]
state_dir = "{tmp_path / "state"}"
""")
    return path


COMMANDS = [
    ("check-config",),
    ("check-config", "--json"),
    ("prepare",),
    ("prepare", "--operator"),
    ("supervisord-conf",),
    ("supervisord-conf", "--operator"),
    ("groups", "list"),
    ("groups", "create", "G1", "--grant", "role:user=read"),
    ("groups", "update", "G1", "--description", "d"),
    ("groups", "delete", "G1"),
    ("groups", "recreate", "G1"),
    ("agents", "list"),
    ("agents", "shutdown", "a1"),
    ("agents", "override", "a1", "none"),
    ("deployments", "list"),
    ("deployments", "create", "DEFAULT", '{"name":"e","route_prefix":"/webapi/e","upstreams":["http://127.0.0.1:9"]}'),
    ("deployments", "update", "e", '{"read_timeout": 5}'),
    ("deployments", "delete", "e"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_no_traceback_with_etcd_and_redis_down(command, down_config, capsys):
    status = cli.main([*command, "-f", str(down_config)])  # an exception here is the traceback
    err = capsys.readouterr().err
    if status != 0:
        lines = err.strip().splitlines()
        assert status == 1 and len(lines) == 1, err
        assert "is unreachable" in lines[0] and "127.0.0.1:" in lines[0]


def test_roll_signers_with_etcd_down(down_config, monkeypatch, capsys):
    """A signer restarted but etcd gone while waiting for it to be Up: roll.py keeps polling until its
    timeout, then says which signer was not Up in etcd; no traceback, status 1."""
    conf = down_config.parent / "supervisord.conf"
    conf.write_text("")
    monkeypatch.setattr(roll.Supervisor, "signer_names", lambda self, group: ["signers:signer_00"])
    pids = iter([100, 101])
    monkeypatch.setattr(roll.Supervisor, "pid", lambda self, name: next(pids))
    monkeypatch.setattr(roll.Supervisor, "run", lambda self, *args, **kw: "")
    status = cli.main(["roll-signers", "-f", str(down_config), "--timeout", "3"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1 and "Traceback" not in "".join(err) and "not Up in etcd" in err[-1], err


def test_the_installed_command_prints_one_line(down_config):
    done = subprocess.run(
        [str(VENV_BIN / "webui-host"), "agents", "list", "-f", str(down_config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("webui-host: etcd at 127.0.0.1:") and done.stderr.count("\n") == 1


def test_version_comes_from_the_distribution(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"webui-host {version('webui-host')}\n"


@pytest.mark.parametrize(
    "content, ok, named",
    [
        ("", True, None),
        ("[service]\nport = -1\n", False, "service.port"),
        ('[service]\ntrusted_proxies = ["10.0.0.0/8", "nope"]\n', False, "nope"),
    ],
)
def test_check_config_json(tmp_path, capsys, content, ok, named):
    path = tmp_path / "c.toml"
    path.write_text(content)
    status = cli.main(["check-config", "--json", "-f", str(path)])
    document = json.loads(capsys.readouterr().out)
    assert (status == 0) is ok and document["ok"] is ok
    assert (named is None and document["problems"] == []) or any(named in p for p in document["problems"])


def test_prepare_operator_needs_a_place(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert cli.main(["prepare", "--operator"]) == 2
    assert "--operator-dir" in capsys.readouterr().err
    assert cli.main(["prepare", "--operator", "--operator-dir", str(tmp_path / "ops")]) == 0
    assert (tmp_path / "ops" / ".state" / "logs").is_dir()
