"""Redis behind Sentinel: a master, a replica and three Sentinels on loopback, the whole stack
pointed at the Sentinels only, and a ``SENTINEL FAILOVER`` under light load."""

from __future__ import annotations

import http.cookiejar
import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.http_probe import signed_call_works
from tests.support.polling import eventually_sync
from tests.support.redis_ha import start_sentinel_setup
from tests.support.stack import ADMIN_USER, RunningStack

pytestmark = pytest.mark.slow

RECOVERY = 5.0  # seconds after the Sentinels name the new master within which everything works again


class Browser:
    """One user's cookie jar: login, a signed call, all with urllib (the load runs in a thread)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def login(self) -> bool:
        body = json.dumps({"username": ADMIN_USER[0], "password": ADMIN_USER[1]}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/server/login", data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with self.opener.open(request, timeout=5) as response:
                return json.load(response).get("authenticated") is True
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def signed_call(self) -> bool:
        try:
            with self.opener.open(f"{self.base_url}/func/auth?echo=ha", timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False


def ready(ops_url: str) -> int:
    try:
        with urllib.request.urlopen(f"{ops_url}/readyz", timeout=3) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0


def test_sentinel_failover_under_load_keeps_logins_calls_and_sessions(tmp_path: Path):
    sentinels = start_sentinel_setup(tmp_path / "redis-ha", tmp_path / "state" / "secrets", password="sentinel-pw")
    extra = (
        f"[session.redis]\nsentinel = {json.dumps(sentinels.sentinel_addrs)}\n"
        'service_name = "mymaster"\npassword = "sentinel-pw"\n[session.redis.redis_helper_config]\nsocket_timeout = 3.0\n'
    )
    stack = RunningStack(tmp_path, extra_config=extra, workers=2)
    try:
        stack.start()
        assert ready(stack.ops_url) == 200
        kept = Browser(stack.base_url)  # a session made before the failover must survive it
        assert kept.login() and kept.signed_call()
        results: list[tuple[float, bool, bool]] = []  # (started, login ok, signed call ok)
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                started = time.monotonic()
                browser = Browser(stack.base_url)
                logged_in = browser.login()
                results.append((started, logged_in, logged_in and browser.signed_call()))
                time.sleep(0.05)

        worker = threading.Thread(target=load, daemon=True)
        worker.start()
        eventually_sync(lambda: len(results) >= 10, timeout=20, what="load running")
        old_master = sentinels.master_port()
        new_master = sentinels.failover()
        switched = time.monotonic()
        assert new_master != old_master
        # Keep the load on for the recovery window and a few seconds after it.
        eventually_sync(lambda: time.monotonic() > switched + RECOVERY + 4, timeout=30, what="load after failover")
        stop.set()
        worker.join(timeout=15)

        window = [r for r in results if switched - 3 <= r[0] < switched + RECOVERY]
        print(
            f"around the failover: {sum(not (r[1] and r[2]) for r in window)} of {len(window)} login+call pairs failed"
        )
        late = [r for r in results if r[0] >= switched + RECOVERY]
        failed_late = [r for r in late if not (r[1] and r[2])]
        assert len(late) >= 10 and not failed_late, f"{len(failed_late)} of {len(late)} failed after recovery"
        assert kept.signed_call(), "the session made before the failover was lost"
        # Ending it after the failover reaches every front-door worker (the invalidation channel followed).
        cookies = list(kept.jar)
        kept.opener.open(
            urllib.request.Request(f"{stack.base_url}/server/logout", data=b"", method="POST"), timeout=5
        ).close()
        replay = Browser(stack.base_url)
        for cookie in cookies:
            replay.jar.set_cookie(cookie)
        eventually_sync(
            lambda: not any(replay.signed_call() for _ in range(4)),
            timeout=RECOVERY,
            what="the ended session refused by every worker",
        )
        assert signed_call_works(stack.base_url, *ADMIN_USER)
        eventually_sync(lambda: ready(stack.ops_url) == 200, timeout=RECOVERY, what="/readyz 200 after failover")
        # The demoted master is a replica now: the logins above wrote to the new master.
        with sentinels.node(old_master) as client:
            eventually_sync(
                lambda: client.info("replication")["role"] == "slave", timeout=15, what="old master demoted"
            )
        with sentinels.node(new_master) as client:
            assert client.info("replication")["role"] == "master"
            assert client.dbsize() > 0
    finally:
        stack.stop()
        sentinels.stop()
