"""Reading the configuration file (the model and its rules are ``contract.config``)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from contract.config import Config, ConfigError, merge_global_overrides, normalise_keys, parse_config


def read_config_file(path: Path | str | None) -> dict[str, Any]:
    """The file's raw tables; ``None`` (the embedded default) is an empty file."""
    if path is None:
        return {}
    try:
        return normalise_keys(tomllib.loads(Path(path).read_text()))
    except OSError as exc:
        raise ConfigError([f"{path}: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None


def load_config(path: Path | str | None, global_overrides: dict[str, Any] | None = None) -> Config:
    """Read and validate a TOML file, with etcd's cluster-wide settings laid over it."""
    raw = read_config_file(path)
    if global_overrides:
        raw = merge_global_overrides(raw, global_overrides)
    return parse_config(raw)
