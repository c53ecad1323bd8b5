"""A signer announces itself in etcd as a Web API Agent, under a lease it keeps refreshing."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from contract.config import Config
from contract.etcd_layout import AgentRecord, agent_key
from service_runtime.etcd import EtcdClient, Lease, etcd_client
from service_runtime.event_wait import set_within

log = logging.getLogger(__name__)


class AgentRegistration:
    def __init__(self, config: Config, record: AgentRecord):
        self._config = config
        self._key = agent_key(config, record.agent_id)
        self.record = record
        self._client: EtcdClient | None = None
        self._lease: Lease | None = None
        self._changed = asyncio.Event()

    def report(
        self,
        state: str,
        fault: str | None = None,
        synced_generation: int | None = None,
        serving: tuple[str, ...] | None = None,
    ) -> None:
        generation = self.record.synced_generation if synced_generation is None else synced_generation
        serving = self.record.serving if serving is None else serving
        if (state, fault, generation, serving) != (
            self.record.state,
            self.record.fault,
            self.record.synced_generation,
            self.record.serving,
        ):
            if state != self.record.state:
                log.info(
                    "agent state changed",
                    extra={
                        "event": "agent_state_change",
                        "agent_id": self.record.agent_id,
                        "group": self.record.group,
                        "from": self.record.state,
                        "to": state,
                        "fault": fault,
                    },
                )
            self.record = dataclasses.replace(
                self.record, state=state, fault=fault, synced_generation=generation, serving=serving
            )
            self._changed.set()

    async def delete_key(self, key: bytes) -> None:
        """Remove a key (a command addressed to us) over the registration's connection."""
        if self._client is not None:
            await self._client.delete(key)

    async def run(self) -> None:
        """Keep the registration present (re-creating it after etcd restarts or lease loss)."""
        ttl = self._config.etcd.lease_ttl
        while True:
            try:
                await self._register(ttl)
                while True:
                    if await set_within(self._changed, ttl / 3):
                        self._changed.clear()
                        await self._client.put(self._key, self.record.to_json(), lease=self._lease)
                    reply = await self._lease.refresh()
                    if reply is None or reply.TTL <= 0:
                        raise ConnectionError("lease expired")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("etcd registration lost; retrying", extra={"event": "etcd_unavailable", "error": repr(exc)})
                await self._close_client()
                await asyncio.sleep(1.0)

    async def _register(self, ttl: int) -> None:
        self._client = etcd_client(self._config)
        self._lease = await self._client.lease(ttl)
        await self._client.put(self._key, self.record.to_json(), lease=self._lease)

    async def withdraw(self) -> None:
        """Remove the registration at once on a clean stop (instead of waiting for the lease)."""
        try:
            if self._lease is not None:
                async with asyncio.timeout(2.0):
                    await self._lease.revoke()
        except Exception:  # etcd away, or the loop closed the connection under the call to reconnect
            pass  # the lease then expires on its own
        await self._close_client()

    async def _close_client(self) -> None:
        if self._client is not None:
            try:
                await self._client.close()
            except Exception:
                pass
            self._client = None
