"""The embedded servers' settings, as text and argv (no server is started here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.host_layout import REDIS_ADMIN
from contract.redis_layout import ACL_RULES, ROLES, acl_rules
from webui_host import embedded

PASSWORDS = {role: f"pw-{role}-0123456789" for role in (*ROLES, REDIS_ADMIN)}


def render(**overrides) -> list[str]:
    options = dict(port=18111, data_dir=Path("/srv/state/redis"), passwords=PASSWORDS, server_knows_setinfo=False)
    options.update(overrides)
    return embedded.render_redis_conf(**options).splitlines()


def directives(lines: list[str]) -> list[str]:
    return [line for line in lines if line and not line.startswith("#")]


def test_redis_conf_is_loopback_and_persists_in_an_append_only_file():
    lines = directives(render())
    assert "bind 127.0.0.1" in lines
    assert "port 18111" in lines
    assert 'save ""' in lines
    assert "appendonly yes" in lines and "appendfsync everysec" in lines
    assert 'dir "/srv/state/redis"' in lines
    assert "daemonize no" in lines
    assert "protected-mode yes" in lines


def test_default_user_is_off():
    user_lines = [line for line in render() if line.startswith("user default ")]
    assert len(user_lines) == 1
    words = user_lines[0].split()
    assert words[:3] == ["user", "default", "off"]
    assert "on" not in words and "nopass" not in words


@pytest.mark.parametrize("knows_setinfo", [False, True])
def test_one_acl_line_per_role_with_the_contract_rules(knows_setinfo):
    lines = render(server_knows_setinfo=knows_setinfo)
    for role in ROLES:
        (line,) = [line for line in lines if line.startswith(f"user {role} ")]
        expected = f"user {role} on >{PASSWORDS[role]} {acl_rules(role, server_knows_setinfo=knows_setinfo)}"
        assert line == expected
        assert ("+client|setinfo" in line) is knows_setinfo
    (admin,) = [line for line in lines if line.startswith(f"user {REDIS_ADMIN} ")]
    assert admin == f"user {REDIS_ADMIN} on >{PASSWORDS[REDIS_ADMIN]} ~* &* +@all"
    users = [line.split()[1] for line in lines if line.startswith("user ")]
    assert sorted(users) == sorted(["default", *ROLES, REDIS_ADMIN])
    assert set(ROLES) == set(ACL_RULES)


def test_missing_or_unsafe_password_is_refused():
    with pytest.raises(ValueError, match="signer"):
        render(passwords={k: v for k, v in PASSWORDS.items() if k != "signer"})
    with pytest.raises(ValueError, match="blanks"):
        render(passwords={**PASSWORDS, "frontdoor": "two words"})
    with pytest.raises(ValueError):
        render(data_dir=Path('/srv/"quoted"'))


@pytest.mark.parametrize(
    "output, version, knows",
    [
        ("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d7c971a948f0", (7, 0, 15), False),
        ("Redis server v=7.2.4 sha=00000000:0 malloc=libc bits=64 build=1", (7, 2, 4), True),
        ("Redis server v=8.0.0 sha=0", (8, 0, 0), True),
        ("Redis server v=6.2.14 sha=0", (6, 2, 14), False),
        ("something else", None, False),
    ],
)
def test_setinfo_detection_from_version(output, version, knows):
    assert embedded.parse_redis_version(output) == version
    assert embedded.knows_setinfo(version) is knows


def test_installed_redis_version_is_read():
    version = embedded.redis_server_version("/usr/bin/redis-server")
    assert version is not None and version >= (7, 0, 0)
    assert embedded.redis_server_version("/nonexistent/redis-server") is None


def test_etcd_command_is_one_loopback_member():
    argv = embedded.etcd_command(data_dir=Path("/srv/state/etcd"), client_port=18121, binary="/usr/bin/etcd")
    assert argv[0] == "/usr/bin/etcd"
    options = dict(zip(argv[1::2], argv[2::2]))
    assert len(argv) % 2 == 1
    assert options["--name"] == "webui-host"
    assert options["--data-dir"] == "/srv/state/etcd"
    assert options["--listen-client-urls"] == "http://127.0.0.1:18121"
    assert options["--advertise-client-urls"] == "http://127.0.0.1:18121"
    assert options["--listen-peer-urls"] == "http://127.0.0.1:18122"
    assert options["--initial-advertise-peer-urls"] == "http://127.0.0.1:18122"
    assert options["--initial-cluster"] == "webui-host=http://127.0.0.1:18122"
    assert options["--initial-cluster-state"] == "new"
    assert all("0.0.0.0" not in arg for arg in argv)
    # One member: raft timing short enough that it leads at once (etcd wants election >= 5 x heartbeat).
    assert int(options["--election-timeout"]) >= 5 * int(options["--heartbeat-interval"])
    assert int(options["--election-timeout"]) <= 200


def test_etcd_peer_port_can_be_chosen():
    argv = embedded.etcd_command(data_dir=Path("/d"), client_port=2379, peer_port=2380)
    assert "http://127.0.0.1:2380" in argv and argv[0] == "etcd"
