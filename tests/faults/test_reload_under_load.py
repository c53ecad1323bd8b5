"""SIGHUP under load: every reloadable key changed at once, every process reloaded, then the file
restored and reloaded again, while the steady load goes on.  Each reload must cost zero requests.

That each key then takes effect is shown key by key in tests/e2e/test_reload_keys.py; the table of
where each is applied is tests/service_runtime/test_reload_keys.py, whose list of reloadable keys
this table must cover.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.load import NO_WAIT, logged_in, under_load
from tests.service_runtime.test_reload_keys import reloadable_keys
from tests.support.reloads import sighup, with_keys

pytestmark = pytest.mark.slow

# A new value for every reloadable key, each one a value the running traffic can live with.
NEW_VALUES = {
    "api": {
        "auth_token_name": '"sTokenReloaded"',
        "connect_timeout": "9.0",
        "default_version": '"v8.20240315"',
        "domain": '"reloaded"',
        "endpoint_policy": '"least_connections"',
        "graphql_paths": '["admin/gql"]',
        "health_check_interval": "4.0",
        "health_check_probe_path": '"/reloaded"',  # any answer below 500 is healthy
        "health_check_probe_timeout": "1.5",
        "jwt_expiration": "600",
        "response_timeout": "3.0",
        "text": '"Backend.AI reloaded"',
        "unhealthy_after": "3",
    },
    # Within the stop wait supervisord was given at launch (3 s here); a longer drain needs a restart.
    "ops": {"drain_timeout": "2.5", "unready_delay": "0.4"},
    "pipeline": {"endpoint": '"http://127.0.0.1:9501"', "frontend_endpoint": '"http://127.0.0.1:3001"'},
    "pipeline.jwt": {"secret": '"reloaded-pipeline-secret-of-enough-length-0123456789"'},
    "runtime": {"log_level": '"DEBUG"'},
    "security": {
        "content_security_policy": "\"default-src 'self'; script-src 'self' 'nonce-{nonce}'\"",
        "cookie_secure": "false",
        "cors_allowed_origins": '["https://reloaded.example"]',
        "cors_max_age": "300",
        "header_read_timeout": "14.0",
        "hsts_max_age": "600",
        "request_policies": '["reject_metadata_local_link_policy"]',
        "response_policies": '["set_content_type_nosniff_policy"]',
        "websocket_max_message_size": "8388608",
        "websocket_max_per_session": "3000",
        "websocket_max_per_worker": "3000",
    },
    "security.csp": {"connect-src": '["\'self\'", "https://reloaded.example"]'},
    "security.rate_limit": {"window": "61"},
    "service": {"enable_signup": "true"},
    "session": {
        "login_allowed_fail_count": "9",
        "login_block_time": "1100",
        "max_age": "600000",
        "touch_interval": "59.0",
    },
    "signers": {"max_attempts": "4", "pool_wait": "9.5", "request_timeout": "0.6"},
    "webapi": {
        "endpoint_admins": '["user:reloaded@lablup.com"]',
        "identity_issuer": '"reloaded"',
        "identity_lifetime": "90",
    },
}
# Reloadable keys left out, and why.
LEFT_OUT = {
    "service.ssl_cert": "the suite's stack serves plain HTTP (tests/frontdoor/test_tls_reload.py reloads a certificate)",
    "service.ssl_privkey": "the same",
    "runtime.log_format": "text lines would hide the config_reload events the reload is awaited by",
}


def changed_keys() -> set[str]:
    """As a reload reports them: ``section.key``, a sub-table by its own key (``security.csp``)."""
    return {table if table.count(".") else f"{table}.{key}" for table, keys in NEW_VALUES.items() for key in keys}


def test_the_table_changes_every_reloadable_key():
    assert changed_keys() | set(LEFT_OUT) == reloadable_keys()


async def test_sighup_of_every_reloadable_key_fails_no_request(stack, report):
    loop = asyncio.get_running_loop()

    def reload_twice() -> None:
        """Every key changed, then every key back: two SIGHUPs to every process."""
        changed = asyncio.run_coroutine_threadsafe(sighup(stack, with_keys(stack.base_text, NEW_VALUES)), loop).result()
        for name, event in changed.items():
            assert event["status"] == "success", (name, event)
            assert set(event["changed"]) == changed_keys(), (name, sorted(changed_keys() ^ set(event["changed"])))
            assert not event.get("needs_restart"), (name, event)
        restored = asyncio.run_coroutine_threadsafe(sighup(stack, stack.base_text), loop).result()
        assert all(event["status"] == "success" for event in restored.values()), restored
        done.append(True)

    done: list[bool] = []

    session = await logged_in(stack.base_url)
    try:
        outcome = await under_load(session, reload_twice)
    finally:
        if not done:  # the next scenarios run with the suite's own settings
            await sighup(stack, stack.base_text)
        await session.close()
    report(outcome.line(f"SIGHUP of all {len(changed_keys())} reloadable keys to every process, and back"))
    outcome.assert_held(slowest=NO_WAIT)
