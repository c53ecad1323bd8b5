"""webui-host's launcher: one supervisord for the front door, the signers, the session daemon and,
on a single host with no servers of its own, an embedded Redis, etcd and development Manager."""

from service_runtime.version import VERSION


def version() -> str:
    """The installed distribution's version (``service_runtime.version``: pyproject.toml's, one source)."""
    return VERSION
