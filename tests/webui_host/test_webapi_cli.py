"""``webui-host groups|agents|deployments`` against a real etcd."""

from __future__ import annotations

import json

import pytest

from tests.support.servers import start_etcd
from webui_host.cli import main


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli")
    etcd = start_etcd(directory)
    path = directory / "webui-host.toml"
    path.write_text(f'[etcd]\naddr = "{etcd.addr}"\n[api]\nendpoint = "http://127.0.0.1:8091"\n')
    yield path
    etcd.stop()


def cli(capsys, config_file, *args) -> tuple[int, object]:
    status = main([*args, "-f", str(config_file)])
    out, err = capsys.readouterr()
    return status, (json.loads(out) if status == 0 else err)


def test_group_and_deployment_lifecycle(capsys, config_file):
    status, created = cli(capsys, config_file, "groups", "create", "NEW_GROUP", "--grant", "role:user=read,create")
    assert status == 0 and "WEBAPI_GROUP_NAME=NEW_GROUP" in created["reminder"]
    status, listed = cli(capsys, config_file, "groups", "list")
    assert sorted(listed) == ["DEFAULT", "NEW_GROUP"]
    definition = json.dumps({"name": "echo", "route_prefix": "/webapi/echo", "upstreams": ["ftp://bad"]})
    status, error = cli(capsys, config_file, "deployments", "create", "NEW_GROUP", definition)
    assert status == 2 and "not an http(s) URL" in error
    definition = json.dumps({"name": "echo", "route_prefix": "/webapi/echo", "upstreams": ["http://127.0.0.1:8"]})
    status, created = cli(capsys, config_file, "deployments", "create", "NEW_GROUP", definition)
    assert status == 0 and created["faults"] == []
    status, error = cli(capsys, config_file, "groups", "delete", "NEW_GROUP")
    assert status == 1 and "still serves deployments" in error
    status, updated = cli(capsys, config_file, "deployments", "update", "echo", '{"upstreams": ["http://127.0.0.1:9"]}')
    assert status == 0 and updated == {"updated": "echo", "revision": 2, "faults": []}
    status, _ = cli(capsys, config_file, "groups", "recreate", "NEW_GROUP")
    assert status == 0
    assert cli(capsys, config_file, "deployments", "delete", "echo")[0] == 0
    assert cli(capsys, config_file, "groups", "delete", "NEW_GROUP")[0] == 0
    assert sorted(cli(capsys, config_file, "groups", "list")[1]) == ["DEFAULT"]


@pytest.mark.parametrize(
    "args, status, fragment",
    [
        (("groups", "create", "bad name"), 2, "name"),
        (("groups", "create", "G", "--grant", "nosubject"), 2, "SUBJECT=ACTION"),
        (("groups", "delete", "DEFAULT"), 1, "cannot be deleted"),
        (("agents", "shutdown", "ghost"), 1, "no live Web API Agent"),
        (
            ("deployments", "create", "MISSING", '{"name": "x", "route_prefix": "/webapi/x", "upstreams": []}'),
            1,
            "no Web API Group",
        ),
        (
            (
                "deployments",
                "create",
                "DEFAULT",
                '{"name": "x", "route_prefix": "/elsewhere", "upstreams": ["http://h:1"]}',
            ),
            2,
            "/webapi/x",
        ),
        # The operator's report: refused at create, every problem named, instead of stored with a fault.
        (
            (
                "deployments",
                "create",
                "DEFAULT",
                '{"name": "broken", "route_prefix": "/webapi/broken", '
                '"upstreams": ["ftp://nowhere:99999", "http://h:99999"], "signing": "none"}',
            ),
            2,
            "not an http(s) URL",
        ),
        (
            (
                "deployments",
                "create",
                "DEFAULT",
                '{"name": "broken", "route_prefix": "/webapi/broken", '
                '"upstreams": ["http://h:99999"], "signing": "hmac"}',
            ),
            2,
            "reserved for the manager deployment",
        ),
    ],
)
def test_refusals_are_clear(capsys, config_file, args, status, fragment):
    got, error = cli(capsys, config_file, *args)
    assert got == status and fragment in error
