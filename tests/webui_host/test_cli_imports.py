"""`webui-host run` starts supervisord sooner when the launcher loads no client it does not use."""

from __future__ import annotations

from tests.support.imports import modules_loaded_by, packages


def test_the_launcher_loads_no_etcd_redis_or_zeromq_client():
    # A first run reads no etcd (a fresh embedded one names no Manager) and talks to no Redis; the
    # commands that do (groups, agents, roll-*, sessions) load their clients themselves.
    loaded = packages(modules_loaded_by("webui_host.cli"))
    assert not loaded & {"aetcd", "grpc", "redis", "zmq", "aiohttp"}


def test_the_launcher_loads_no_template_engine_asyncio_or_command_models():
    # ``run`` renders supervisord.conf and execs supervisord: jinja2 (~35 ms), asyncio with ssl
    # (~40-80 ms) and the Web API / session command models (~20 ms each) are for other commands.
    loaded = modules_loaded_by("webui_host.cli")
    assert not packages(loaded) & {"jinja2", "asyncio", "ssl"}
    assert not loaded & {"contract.webapi", "contract.session_commands", "contract.etcd_layout", "webui_host.roll"}


def test_the_parent_bound_wrapper_loads_nothing_but_ctypes():
    # Every program of the stack starts through it: what it loads is paid once per program, per start.
    loaded = modules_loaded_by("webui_host.parent_bound")
    assert "importlib.metadata" not in loaded
    assert not packages(loaded) & {"contract", "service_runtime", "pydantic"}
