"""The Web API Agents registered in etcd, followed live with a watch (autodiscovery)."""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from contract.config import Config
from contract.etcd_layout import AgentRecord, agents_prefix, etcd_client

log = logging.getLogger(__name__)


class AgentDirectory:
    def __init__(self, config: Config, on_change: Callable[[dict[str, AgentRecord]], None]):
        self._config = config
        self._prefix = agents_prefix(config)
        self._on_change = on_change
        self.agents: dict[str, AgentRecord] = {}
        self.synced = asyncio.Event()

    async def run(self) -> None:
        """Load the whole prefix, then apply watch events; start over after any etcd trouble."""
        while True:
            client = etcd_client(self._config)
            try:
                revision = await self._load(client)
                watch = await client.watch_prefix(self._prefix, start_revision=revision + 1)
                async for event in watch:
                    self._apply(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("agent directory lost etcd; resyncing", extra={"event": "etcd_unavailable", "error": repr(exc)})
            finally:
                try:
                    await client.close()
                except Exception:
                    pass
            await asyncio.sleep(1.0)

    async def _load(self, client) -> int:
        result = await client.get_prefix(self._prefix)
        agents = {}
        for kv in result:
            record = self._parse(kv.value)
            if record is not None:
                agents[record.agent_id] = record
        self.agents = agents
        self._on_change(dict(self.agents))
        self.synced.set()
        return result.header.revision

    def _apply(self, event) -> None:
        agent_id = event.kv.key[len(self._prefix):].decode()
        if event.kind == "PUT":
            record = self._parse(event.kv.value)
            if record is None:
                return
            self.agents[agent_id] = record
        else:
            self.agents.pop(agent_id, None)
        self._on_change(dict(self.agents))

    @staticmethod
    def _parse(raw: bytes) -> AgentRecord | None:
        try:
            return AgentRecord.from_json(raw)
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed agent registration", extra={"event": "bad_registration"})
            return None
