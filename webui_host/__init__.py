"""webui-host's launcher: one supervisord for the front door, the signers, the session daemon and,
on a single host with no servers of its own, an embedded Redis, etcd and development Manager."""


def version() -> str:
    """The installed distribution's version: pyproject.toml is the one place it is written."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("webui-host")
    except PackageNotFoundError:  # pragma: no cover - run from a checkout that was never installed
        return "0+unknown"
