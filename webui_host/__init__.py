"""webui-host's launcher: one supervisord for the front door, the signers, the session daemon and,
on a single host with no servers of its own, an embedded Redis, etcd and development Manager."""


def version() -> str:
    """The installed distribution's version (``service_runtime.version``: pyproject.toml's, one source)."""
    # Imported here: reading it loads importlib.metadata and scans the installed distributions, which
    # `python -m webui_host.parent_bound` (the wrapper every program of the stack starts through) must
    # not pay before it execs the program.
    from service_runtime.version import VERSION

    return VERSION
