"""Operations on a real stack: one scrape for every process, health, /stats, logs, SIGHUP reload."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re

import aiohttp
import pytest
import zmq
import zmq.asyncio
from yarl import URL

from contract.host_layout import signer_endpoint
from tests.support.polling import eventually
from tests.support.reloads import process_logs, sighup, with_keys
from tests.support.stack import ADMIN_USER, NORMAL_USER, RunningStack

pytestmark = pytest.mark.slow

ADMIN_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
USER_SECRET_KEY = "C8qnIo29EZvXkPK1Kk9mMFbwDmBFFeNC8e6wkSXN"
WRONG_PASSWORD = "not-the-Pa55word-9f3c"
OUR_LOGS = re.compile(r"^(frontdoor_\d+|signer_\d+|session_daemon)\.log$")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = RunningStack(tmp_path_factory.mktemp("ops"), log_level="DEBUG").start()
    yield running
    running.stop()


@pytest.fixture
async def client(stack):
    async with aiohttp.ClientSession(stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def log_in(
    session: aiohttp.ClientSession, user=ADMIN_USER, request_id: str | None = None, path: str = "/server/login"
) -> int:
    """The status of a login; a refused one is 401 on the seed's path (Backend.AI's path answers 200)."""
    headers = {"X-Request-ID": request_id} if request_id else {}
    async with session.post(path, json={"username": user[0], "password": user[1]}, headers=headers) as answer:
        await answer.read()
        return answer.status


async def scrape(stack) -> str:
    async with aiohttp.ClientSession() as session:
        async with session.get(stack.ops_url + "/metrics") as answer:
            assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/plain")
            return await answer.text()


def samples(text: str, name: str, **labels: str) -> list[float]:
    """Values of the series ``name`` whose labels include ``labels``."""
    found = []
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        series, value = line.rsplit(" ", 1)
        if all(f'{key}="{wanted}"' in series for key, wanted in labels.items()):
            found.append(float(value))
    return found


def read_logs(stack, pattern: re.Pattern | None = None) -> dict[str, str]:
    logs = stack.config.runtime.state_dir / "logs"
    found = {
        path.name: path.read_text(errors="replace")
        for path in sorted(logs.glob("*.log"))
        if pattern is None or pattern.match(path.name)
    }
    if pattern is None:
        found["webui-host-run.log"] = (stack.directory / "webui-host-run.log").read_text(errors="replace")
    return found


def log_events(stack, file_prefix: str) -> list[dict]:
    events = []
    for name, text in read_logs(stack, OUR_LOGS).items():
        if name.startswith(file_prefix):
            events += [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return events


def logouts_logged(stack) -> tuple[int, int]:
    """Logouts of the normal user as the front door and the session daemon have logged them."""
    front = [e for e in log_events(stack, "frontdoor_") if e.get("path") == "/server/logout"]
    daemon = [
        e
        for e in log_events(stack, "session_daemon")
        if e.get("event") == "session_revoke" and e.get("user_id") == NORMAL_USER[0]
    ]
    return len(front), len(daemon)


async def test_one_scrape_shows_every_process_with_backend_ai_labels(stack, client):
    assert await log_in(client, (ADMIN_USER[0], WRONG_PASSWORD), path="/api/auth/login") == 401
    assert await log_in(client) == 200
    async with client.get("/func/auth?echo=metrics") as answer:
        assert answer.status == 200
    async with client.get("/func/dev/slow?delay=3") as answer:  # response_timeout is 2 s: 504
        assert answer.status == 504
    await send_garbage_to_a_signer(stack)

    async def scraped_everything():
        # Counters of another process reach the scrape within its flush interval (1 s): wait for the
        # last ones written, the signer's rejection and the 504 (the earlier ones are older than 2 s).
        text = await scrape(stack)
        rejected = samples(text, "webui_host_zmq_rejected_total", process="signer_worker")
        timed_out = samples(text, "webui_host_upstream_errors_total", kind="response_timeout")
        return text if rejected and timed_out else None

    text = await eventually(scraped_everything, 15, 0.3, what="the signer's rejected-message counter")
    login = dict(endpoint="/api/auth/login", method="POST")
    # The stack's start-up check logged in too: counts are "at least".
    assert (
        samples(
            text,
            "backendai_api_request_count_total",
            status_code="200",
            domain="",
            operation="",
            error_detail="",
            **login,
        )[0]
        >= 2
    )
    assert samples(
        text,
        "backendai_api_request_count_total",
        status_code="401",
        domain="api",
        operation="auth",
        error_detail="unauthorized",
        **login,
    ) == [1.0]
    assert samples(
        text,
        "backendai_api_request_count_total",
        endpoint="/api/func/{path}",
        status_code="504",
        error_detail="timeout",
    )
    buckets = re.findall(
        r'backendai_api_request_duration_sec_bucket\{[^}]*endpoint="/api/auth/login"[^}]*le="([^"]+)"', text
    )
    assert sorted(set(buckets), key=float) == [
        "0.001",
        "0.01",
        "0.1",
        "0.5",
        "1.0",
        "2.0",
        "5.0",
        "10.0",
        "30.0",
        "+Inf",
    ]
    labels = re.search(r"backendai_api_request_count_total\{([^}]*)\}", text).group(1)
    assert sorted(part.split("=")[0] for part in labels.split(",")) == sorted(
        ["method", "endpoint", "domain", "operation", "error_detail", "status_code"]
    )
    # The front door, the signers and the session daemon all write into the one exposition.
    assert samples(text, "webui_host_sign_duration_seconds_count")  # front door
    assert samples(text, "webui_host_signatures_total", result="signed")  # signers
    assert samples(text, "webui_host_logins_total", result="success")[0] >= 2  # session daemon
    assert samples(text, "webui_host_logins_total", result="failed") == [1.0]
    assert samples(text, "webui_host_session_events_total", event="session_create")[0] >= 2
    assert samples(text, "webui_host_upstream_errors_total", kind="response_timeout") == [1.0]
    assert samples(text, "webui_host_agents", group="DEFAULT", state="UP") == [2.0]
    assert sorted(samples(text, "webui_host_signer_queue_depth")) == [0.0, 0.0]

    async def one_active_session():
        return samples(await scrape(stack), "webui_host_active_sessions") == [1.0]

    await eventually(one_active_session, 15, 0.3, what="the active-sessions gauge counting the login")
    async with client.get("/metrics") as answer:  # never on the public port
        assert "backendai_api_request_count" not in await answer.text()


async def send_garbage_to_a_signer(stack) -> None:
    import socket as sock

    context = zmq.asyncio.Context()
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 5000)  # closing waits until the garbage is handed to the signer
    dealer.connect(signer_endpoint(stack.config, f"{sock.gethostname()}-signer-0"))
    try:
        for _ in range(3):
            await dealer.send_multipart([os.urandom(64), os.urandom(32)])
    finally:
        dealer.close()
        context.term()


async def test_readyz_follows_the_manager_and_livez_does_not(stack):
    async with aiohttp.ClientSession(stack.ops_url) as ops:
        async with ops.get("/readyz") as answer:
            doc = await answer.json()
            assert answer.status == 200 and doc["status"] == "ok" and doc["component"] == "webserver"
            assert {name: check["status"] for name, check in doc["connectivity"].items()} == {
                "redis": "ok",
                "signers": "ok",
                "manager": "ok",
            }
        stack.supervisorctl("stop", "devstack")
        try:
            async with ops.get("/readyz") as answer:
                doc = await answer.json()
                assert answer.status == 503 and doc["connectivity"]["manager"]["status"] == "error"
                assert doc["connectivity"]["redis"]["status"] == "ok"
            async with ops.get("/livez") as answer:
                assert answer.status == 200
            async with ops.get("/health") as answer:
                assert answer.status == 200 and (await answer.json())["status"] == "degraded"
            async with ops.get("/metrics") as answer:  # the signal of the Manager/Redis-unreachable alerts
                text = await answer.text()
            assert 'webui_host_dependency_up{dependency="manager"} 0.0' in text, text
            assert 'webui_host_dependency_up{dependency="redis"} 1.0' in text
        finally:
            stack.supervisorctl("start", "devstack")

        async def ready_again():
            async with ops.get("/readyz") as answer:
                return answer.status == 200

        await eventually(ready_again, 15, 0.3, what="ready again once the Manager is back")


async def test_stats_counts_handlers_in_flight(stack, client):
    assert await log_in(client) == 200
    slow = asyncio.ensure_future(client.get("/func/dev/slow?delay=1"))

    async def the_slow_one_in_flight() -> dict | None:
        async with client.get("/stats?format=json") as answer:
            doc = await answer.json()
        return doc if doc["active_proxy_api_handlers"] == 1 else None

    doc = await eventually(the_slow_one_in_flight, timeout=5, what="the slow request counted in flight")
    assert doc["active_proxy_api_handlers"] == 1 and doc["total_active_handlers"] >= 2
    assert doc["active_healthcheck_handlers"] == 1 and doc["total_async_tasks"] > 0
    async with await slow as answer:
        assert answer.status == 200
    async with client.get("/stats") as answer:
        text = await answer.text()
        assert answer.content_type == "text/plain" and "active_proxy_api_handlers: 0\n" in text
    async with client.get("/stats?format=<b>xml</b>") as answer:
        assert answer.status == 400 and (await answer.text()).startswith("Invalid format: ")


async def test_a_request_id_follows_a_login_and_a_signed_call_across_processes(stack, client):
    assert await log_in(client, NORMAL_USER, request_id="login-trace-1") == 200
    async with client.get("/func/auth?echo=trace", headers={"X-Request-ID": "sign-trace-2"}) as answer:
        assert answer.status == 200 and answer.headers["X-Request-ID"] == "sign-trace-2"
    async with client.get("/func/auth", headers={"X-Request-ID": "not a valid id!"}) as answer:
        assert re.fullmatch(r"[0-9a-f]{16}", answer.headers["X-Request-ID"])  # replaced, not trusted

    async def traced():
        daemon = [e for e in log_events(stack, "session_daemon") if e.get("request_id") == "login-trace-1"]
        signer = [e for e in log_events(stack, "signer_") if e.get("request_id") == "sign-trace-2"]
        front = [e for e in log_events(stack, "frontdoor_") if e.get("request_id") in ("login-trace-1", "sign-trace-2")]
        return daemon and signer and len(front) >= 2 and (daemon, signer, front)

    found = await eventually(traced, 5, 0.3, what="the request ids in every process's log")
    daemon, signer, front = found
    assert any(
        e["event"] == "session_create" and e["user_id"] == NORMAL_USER[0] and e["status"] == "success" for e in daemon
    )
    assert any(e["event"] == "sign_request" and e["status"] == "success" for e in signer)
    assert all("event" in e for e in front), [e for e in front if "event" not in e]
    assert {e["event"] for e in front} >= {"http_request", "proxy_request"}
    proxied = next(e for e in front if e["event"] == "proxy_request")
    assert proxied["user_id"] == NORMAL_USER[0] and proxied["status"] == "success" and proxied["status_code"] == 200


async def test_logs_hold_no_password_secret_key_cookie_or_signature(stack, client):
    assert await log_in(client, (NORMAL_USER[0], WRONG_PASSWORD), path="/api/auth/login") == 401
    assert await log_in(client, NORMAL_USER) == 200
    async with client.get("/func/dev/echo-headers") as answer:
        received = (await answer.json())["headers"]
    authorization = received["Authorization"]
    signature = authorization.rsplit(":", 1)[1]
    cookie = client.cookie_jar.filter_cookies(URL(stack.base_url))[stack.config.session.cookie_name].value
    for i in range(3):
        async with client.post("/func/auth", json={"echo": str(i)}) as answer:
            assert answer.status == 200
    logged_before = logouts_logged(stack)
    async with client.post("/server/logout") as answer:
        assert answer.status == 201
    await eventually(  # the last lines of this test are written: nothing of it can appear later
        lambda: all(now > before for now, before in zip(logouts_logged(stack), logged_before)),
        timeout=10,
        what="the logout in the front door's and the session daemon's logs",
    )
    logs = read_logs(stack)
    assert any(OUR_LOGS.match(name) for name in logs)
    for forbidden in (
        NORMAL_USER[1],
        WRONG_PASSWORD,
        USER_SECRET_KEY,
        ADMIN_SECRET_KEY,
        cookie,
        authorization,
        signature,
    ):
        for name, text in logs.items():
            assert forbidden not in text, f"{name} contains a secret"
    for name, text in read_logs(stack, OUR_LOGS).items():
        for line in text.splitlines():
            doc = json.loads(line)  # every line of our processes is a JSON object
            assert {"ts", "level", "process", "msg"} <= set(doc), (name, line)


async def test_sighup_reloads_timeouts_without_restarting_anything(stack, client):
    assert await log_in(client) == 200
    before = {name: stack.pids(name) for name in ("frontdoor", "signers", "session_daemon")}
    original = stack.config_path.read_text()
    assert "response_timeout = 2.0" in original
    stack.config_path.write_text(original.replace("response_timeout = 2.0", "response_timeout = 0.5"))
    try:
        assert "ERROR" not in stack.supervisorctl("signal", "HUP", "frontdoor:*", "signers:*", "session_daemon")

        async def reloaded():
            return [
                e
                for e in log_events(stack, "frontdoor_")
                if e.get("event") == "config_reload" and "api.response_timeout" in e.get("changed", [])
            ]

        await eventually(reloaded, 10, 0.3, what="the front door's config_reload of api.response_timeout")
        async with client.get("/func/dev/slow?delay=1") as answer:
            assert answer.status == 504  # 1 s is now over the limit
    finally:
        stack.config_path.write_text(original)
        stack.supervisorctl("signal", "HUP", "frontdoor:*", "signers:*", "session_daemon")

    async def restored():
        async with client.get("/func/dev/slow?delay=1") as answer:
            return answer.status == 200

    await eventually(restored, 10, 0.3, what="response_timeout restored")
    assert {name: stack.pids(name) for name in before} == before  # nothing restarted
    for prefix in ("signer_", "session_daemon"):
        assert any(
            e.get("event") == "config_reload" and e.get("status") == "success" for e in log_events(stack, prefix)
        ), prefix


async def test_a_sighup_asking_for_a_longer_drain_than_supervisord_waits_needs_a_restart(stack):
    """supervisord reads a front door's stopwaitsecs once, at its start: a drain that no longer fits in
    it is reported restart-needed, not applied (SIGKILL would cut it); one that fits is applied."""
    original = stack.config_path.read_text()
    budget = math.ceil(stack.config.ops.unready_delay + stack.config.ops.drain_timeout)
    workers = [name for name in process_logs(stack) if name.startswith("frontdoor_")]
    try:
        events = await sighup(stack, with_keys(original, {"ops": {"drain_timeout": str(budget + 30.0)}}))
        for name in workers:
            assert "ops.drain_timeout" in events[name]["needs_restart"], events[name]
            assert "stopwaitsecs" in events[name]["restart_reasons"]["ops.drain_timeout"]
        assert "ops.drain_timeout" in events["session_daemon.log"]["changed"]  # not drained by supervisord's wait
        lower = stack.config.ops.drain_timeout / 2
        events = await sighup(stack, with_keys(original, {"ops": {"drain_timeout": str(lower)}}))
        for name in workers:
            assert "ops.drain_timeout" in events[name]["changed"] and not events[name]["needs_restart"], events[name]
    finally:
        await sighup(stack, original)
