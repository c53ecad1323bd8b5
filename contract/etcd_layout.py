"""What webui-host keeps in etcd, under ``/<namespace>/`` (Web API Groups: see contract/webapi.py).

- ``agents/<agent id>``  a signer's registration (JSON ``AgentRecord``), attached to its lease: it
  vanishes when the signer stops refreshing it.
- ``config/global``      JSON of cluster-wide settings laid over every process's file (``[api]``,
  ``[session]`` except Redis).
- ``manager/endpoints``  JSON list of Manager URLs, used when the file names none.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from contract.config import Config


def namespace_prefix(config: Config) -> bytes:
    return f"/{config.etcd.namespace.strip('/')}/".encode()


def agents_prefix(config: Config) -> bytes:
    return namespace_prefix(config) + b"agents/"


def agent_key(config: Config, agent_id: str) -> bytes:
    return agents_prefix(config) + agent_id.encode()


# The Web API Groups sections (contract/webapi.py): one key per group, deployment, override, ...
WEBAPI_SECTIONS = ("groups", "deployments", "overrides", "generations", "commands")


def section_key(config: Config, section: str, name: str = "") -> bytes:
    """``/<namespace>/<section>/<name>`` (with an empty name: the section's prefix)."""
    if section not in WEBAPI_SECTIONS:
        raise ValueError(f"unknown etcd section {section!r}")
    return namespace_prefix(config) + f"{section}/{name}".encode()


def global_config_key(config: Config) -> bytes:
    return namespace_prefix(config) + b"config/global"


def manager_endpoints_key(config: Config) -> bytes:
    return namespace_prefix(config) + b"manager/endpoints"


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """A signer as it announces itself (its reported state; admin overrides live elsewhere)."""

    agent_id: str
    group: str
    endpoint: str
    host: str
    pid: int
    version: str
    state: str
    started_at: float
    fault: str | None = None
    synced_generation: int = 0  # the group's Recreate generation this agent has applied
    serving: tuple[str, ...] = ()  # deployments applied and signed for (also while another one is faulty)

    def to_json(self) -> bytes:
        return json.dumps({**asdict(self), "serving": list(self.serving)}, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> AgentRecord:
        doc: dict[str, Any] = json.loads(raw)
        return cls(
            agent_id=str(doc["agent_id"]),
            group=str(doc["group"]),
            endpoint=str(doc["endpoint"]),
            host=str(doc["host"]),
            pid=int(doc["pid"]),
            version=str(doc["version"]),
            state=str(doc["state"]),
            started_at=float(doc["started_at"]),
            fault=doc.get("fault"),
            synced_generation=int(doc.get("synced_generation", 0)),
            serving=tuple(str(name) for name in doc.get("serving") or ()),
        )


class AgentState:
    """The states of a Web API Agent (a signer), as the agent reports them."""

    UP = "UP"  # serving
    DOWN = "DOWN"  # started, syncing (connecting to Redis, loading its group's deployments)
    OUT_OF_SERVICE = "OUT_OF_SERVICE"  # re-syncing, or holding a deployment it cannot deploy
    STARTING = "STARTING"  # misconfigured, cannot start serving
    UNKNOWN = "UNKNOWN"  # lease lost or heartbeat stale (decided by observers, never reported)
