"""Memory of an invalidated-record cache across many sessions created and abandoned.

Drives ``service_runtime.invalidation.InvalidatedRecords`` directly (the front door's session
cache: real ``SessionRecord`` JSON parsed at every miss) on a simulated clock: one session is created
every ``--spacing`` simulated seconds, looked up once, and never seen again. Each lives
``--lifetime`` simulated seconds, so at steady state about lifetime/spacing are live; the rest must
leave memory at their expiry, and ``--max-entries`` bounds the cache whatever the lifetime.
Prints entries held and the process's RSS every tenth of the run; exits 1 if RSS grew by more than
``--max-growth-mib`` after the first tenth (the steady state).

    .venv/bin/python bench/cache_memory.py                      # 1,000,000 sessions, ~1 min
    .venv/bin/python bench/cache_memory.py --lifetime 1e9       # nothing expires: the LRU bound alone
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contract.redis_layout import SessionRecord, session_key  # noqa: E402
from service_runtime.invalidation import InvalidatedRecords  # noqa: E402


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Store:
    """Stands in for Redis's GET (the benchmark measures the cache, not the network)."""

    def __init__(self) -> None:
        self.value: bytes = b""

    async def get(self, _key: str) -> bytes:
        # Yield as a socket read does: the loop then runs and drops the lookup's cancelled timeout
        # handles (without it they pile up in the loop, not in the cache).
        await asyncio.sleep(0)
        return self.value


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


async def main(args: argparse.Namespace) -> int:
    clock = Clock()
    store = Store()
    cache: InvalidatedRecords[SessionRecord] = InvalidatedRecords(
        store,
        session_key,
        lambda _digest, raw: SessionRecord.from_json(raw),
        max_entries=args.max_entries,
        clock=clock,
    )
    cache.listener.live = True  # as if subscribed: records are kept in memory
    step = max(1, args.sessions // 10)
    print(f"{'sessions':>10} {'held':>8} {'rss MiB':>8} {'elapsed s':>9}")
    started = time.monotonic()
    baseline = None
    for index in range(args.sessions):
        clock.now += args.spacing
        store.value = (
            SessionRecord(
                user_id=f"user{index}@example.com",
                access_key=f"AKIA{index:016d}",
                role="user",
                status="active",
                created_at=clock.now,
                last_accessed=clock.now,
                expires_at=clock.now + args.lifetime,
                preferences={"lang": "en"},
            )
            .to_json()
            .encode()
        )
        digest = f"{index:064x}"
        record = await cache.load(digest)
        assert record is not None
        if (index + 1) % step == 0:
            rss = rss_mib()
            if baseline is None:
                baseline = rss
            print(f"{index + 1:>10,} {len(cache):>8,} {rss:>8.1f} {time.monotonic() - started:>9.1f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    growth = rss_mib() - (baseline or 0.0)
    print(
        f"held at end: {len(cache):,} (bound {args.max_entries:,}); RSS growth after the first tenth: "
        f"{growth:+.1f} MiB; peak RSS {peak:.1f} MiB"
    )
    return 0 if growth <= args.max_growth_mib and len(cache) <= args.max_entries else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--spacing", type=float, default=0.001, help="simulated seconds between sessions")
    parser.add_argument("--lifetime", type=float, default=30.0, help="simulated seconds each session lives")
    parser.add_argument("--max-entries", type=int, default=100_000)
    parser.add_argument("--max-growth-mib", type=float, default=16.0)
    sys.exit(asyncio.run(main(parser.parse_args())))
