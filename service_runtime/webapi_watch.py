"""Following Web API Groups in etcd: one prefix read, then a watch, kept as a ``GroupsSnapshot``.

Used by the front door (routing, overview) and by every signer (its group's deployments and
Recreate generation, and Shutdown commands addressed to it).  The watch itself carries on at the next
etcd member when its member is lost; when it cannot (every member lost, or the revisions to resume
from compacted), the whole prefix is read again, so a missed event cannot leave a stale view behind.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Callable

from contract.config import Config
from contract.etcd_layout import AgentRecord, namespace_prefix
from contract.webapi import Deployment, GroupDefinition, GroupsSnapshot, InvalidDefinition
from service_runtime.etcd import etcd_client

log = logging.getLogger(__name__)
LOST_AGENT_MEMORY = 600.0  # seconds a vanished agent stays listed as Unknown


class GroupsWatcher:
    def __init__(self, config: Config, on_change: Callable[[GroupsSnapshot], None]):
        self._config = config
        self._prefix = namespace_prefix(config)
        self._on_change = on_change
        self.snapshot = GroupsSnapshot()
        self.synced = asyncio.Event()
        self.revision = 0  # the etcd revision the snapshot reflects
        self._progress = asyncio.Condition()

    async def run(self) -> None:
        while True:
            client = etcd_client(self._config)
            try:
                result = await client.get_prefix(self._prefix)
                self.load(result)
                watch = await client.watch_prefix(self._prefix, start_revision=result.header.revision + 1)
                await self._advance(result.header.revision)
                async for event in watch:
                    self._apply(event.kv.key, event.kv.value if event.kind == "PUT" else None)
                    self._publish()
                    await self._advance(event.kv.mod_revision)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "lost etcd; reading Web API Groups again", extra={"event": "etcd_unavailable", "error": repr(exc)}
                )
            finally:
                try:  # bounded: closing towards a dead etcd must not hang a stopping process
                    async with asyncio.timeout(2.0):  # (not wait_for: see service_runtime.event_wait)
                        await client.close()
                except Exception:  # TimeoutError included; a cancellation still propagates
                    pass
            await asyncio.sleep(1.0)

    async def _advance(self, revision: int) -> None:
        async with self._progress:
            self.revision = max(self.revision, revision)
            self._progress.notify_all()

    async def caught_up(self, revision: int, timeout: float = 2.0) -> bool:
        """Wait until the snapshot reflects ``revision`` (read-your-writes for the API)."""
        try:
            async with asyncio.timeout(timeout):
                async with self._progress:
                    await self._progress.wait_for(lambda: self.revision >= revision)
            return True
        except TimeoutError:
            return False

    def load(self, result) -> None:
        previous = self.snapshot
        self.snapshot = GroupsSnapshot(lost=dict(previous.lost))
        for kv in result:
            self._apply(kv.key, kv.value)
        for agent_id in previous.agents.keys() - self.snapshot.agents.keys():
            self.snapshot.lost[agent_id] = (previous.agents[agent_id], time.time())
        self._publish()
        self.synced.set()

    def _publish(self) -> None:
        horizon = time.time() - LOST_AGENT_MEMORY
        for agent_id in [a for a, (_, lost_at) in self.snapshot.lost.items() if lost_at < horizon]:
            del self.snapshot.lost[agent_id]
        self._on_change(self.snapshot)

    def _apply(self, key: bytes, value: bytes | None) -> None:
        kind, _, name = key[len(self._prefix) :].decode(errors="replace").partition("/")
        snapshot = self.snapshot
        try:
            if kind == "agents":
                if value is None:
                    record = snapshot.agents.pop(name, None)
                    if record is not None:
                        snapshot.lost[name] = (record, time.time())
                else:
                    snapshot.agents[name] = AgentRecord.from_json(value)
                    snapshot.lost.pop(name, None)
            elif kind == "groups":
                _put(snapshot.groups, name, value, lambda raw: GroupDefinition.from_dict(json.loads(raw)))
            elif kind == "deployments":
                _put(snapshot.deployments, name, value, lambda raw: Deployment.from_dict(json.loads(raw)))
            elif kind == "overrides":
                _put(snapshot.overrides, name, value, lambda raw: json.loads(raw)["state"])
            elif kind == "generations":
                _put(snapshot.generations, name, value, lambda raw: int(json.loads(raw)["generation"]))
            elif kind == "commands":
                _put(snapshot.commands, name, value, json.loads)
        except (ValueError, KeyError, TypeError, InvalidDefinition) as exc:
            log.warning(
                "ignoring a malformed etcd entry", extra={"event": "bad_etcd_entry", "kind": kind, "error": str(exc)}
            )


def _put(table: dict, name: str, value: bytes | None, parse) -> None:
    if value is None:
        table.pop(name, None)
    else:
        table[name] = parse(value)


async def read_snapshot(config: Config) -> GroupsSnapshot:
    """One consistent read of the Web API Groups (for the CLI; processes follow them with a watch)."""
    watcher = GroupsWatcher(config, lambda _snapshot: None)
    client = etcd_client(config)
    try:
        watcher.load(await client.get_prefix(namespace_prefix(config)))
    finally:
        await client.close()
    return watcher.snapshot
