"""Which webui-host stacks ``bench/run.sh compare`` starts (no server is started here)."""

import pytest

from bench.compare import parse_args, webui_host_shapes


def test_the_defaults_and_the_floors_shape_side_by_side():
    shapes = webui_host_shapes(["floor-signed", "webui-host", "webui-host-1x1"], None, None)
    assert [(workers, signers) for _, workers, signers in shapes] == [(2, 2), (1, 1)]
    assert len({name for name, _, _ in shapes}) == 2  # apart in the tables


def test_workers_and_signers_shape_the_default_stack_only():
    shapes = webui_host_shapes(["webui-host", "webui-host-1x1"], [4], [3])
    assert [(workers, signers) for _, workers, signers in shapes] == [(4, 3), (1, 1)]


def test_a_run_without_webui_host_starts_none():
    assert webui_host_shapes(["direct", "floor-signed"], None, None) == []


def test_the_floors_shape_is_a_known_server_and_a_misspelt_one_is_refused(capsys):
    assert parse_args(["compare", "--servers", "floor-signed,webui-host-1x1"]).servers == "floor-signed,webui-host-1x1"
    with pytest.raises(SystemExit):
        parse_args(["compare", "--servers", "webui-host-1x2"])
    assert "webui-host-1x2" in capsys.readouterr().err
