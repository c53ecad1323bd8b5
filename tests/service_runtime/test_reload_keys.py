"""Every setting is either applied by a reload (read at its use, or by a component's reload hook) or
reported as needing a restart.  A new key must be put in one of these tables, with where it is applied;
tests/e2e/test_reload_keys.py shows the hooked ones through a real SIGHUP."""

from __future__ import annotations

from contract.config import Config
from contract.fields import Model
from service_runtime.reload import is_bootstrap

# Read from the one Config object at each use (a reload updates it in place).
READ_AT_USE = {
    "api.domain": "proxy and session daemon, per request",
    "api.text": "webui_config, per request",
    "api.default_version": "proxy and session daemon, per request",
    "api.response_timeout": "FrontDoor.deployment, per request",
    "api.graphql_paths": "proxy, per request",
    "api.jwt_expiration": "signer, per signature",
    "api.endpoint_policy": "FrontDoor.endpoint_pool configures the pool at each use",
    "api.unhealthy_after": "FrontDoor.endpoint_pool configures the pool at each use",
    "api.health_check_interval": "endpoint_probe, per round",
    "api.auth_token_name": "AuthRoutes, per token login",
    "service.enable_signup": "Security and Signup, per request; webui_config, per request",
    "pipeline.endpoint": "pipeline_deployment, per request (its endpoint pool follows the upstreams)",
    "pipeline.frontend_endpoint": "webui_config, per request",
    "pipeline.jwt": "pipeline_token, per request",
    "signers.max_attempts": "SignerPool, per request",
    "signers.pool_wait": "SignerPool, per request",
    "runtime.log_level": "reload_from_file re-configures logging",
    "runtime.log_format": "reload_from_file re-configures logging",
    "security.cors_max_age": "Security, per preflight",
    "security.request_policies": "Security, per request",
    "security.response_policies": "nothing to apply: nosniff is always sent",
    "security.hsts_max_age": "Security, per response",
    "security.cookie_secure": "FrontDoor.set_session_cookie, per cookie set",
    "api.health_check_probe_path": "probe_all and /readyz, per probe",
    "api.health_check_probe_timeout": "probe_forever, per round",
    "security.websocket_max_message_size": "WebSocketRelay, per socket",
    "security.websocket_max_per_session": "WebSocketRelay, per socket",
    "security.websocket_max_per_worker": "WebSocketRelay, per socket",
    "security.header_read_timeout": "HeaderDeadlines reads it per connection",
    "webapi.endpoint_admins": "front door, per request",
    "webapi.identity_issuer": "signer, per signature",
    "webapi.identity_lifetime": "signer, per signature",
    "ops.drain_timeout": "Worker.drain; a reload past supervisord's stop wait is restart-needed (reload.held_drain_keys)",
    "ops.unready_delay": "Worker.drain; a reload past supervisord's stop wait is restart-needed (reload.held_drain_keys)",
}
# Copied by a component at start; its reload hook applies the new value.
HOOKED = {
    "service.ssl_cert": "front door: reload_tls",
    "service.ssl_privkey": "front door: reload_tls",
    "api.connect_timeout": "front door: set_connect_timeout; session daemon: per request",
    "session.max_age": "session daemon: SessionDaemon.reload (store); front door: cookie, per login",
    "session.login_block_time": "session daemon: SessionDaemon.reload; front door: Security.reload",
    "session.login_allowed_fail_count": "session daemon: SessionDaemon.reload; front door: per request",
    "session.touch_interval": "front door: SessionReader.reload",
    "security.cors_allowed_origins": "front door: Security.reload",
    "security.content_security_policy": "front door: Security per response; StaticFiles.reload (bundle pages)",
    "security.csp": "front door: Security per response; StaticFiles.reload (bundle pages)",
    "security.rate_limit": "front door: Security.reload (window, sync_interval); the rest per request",
    "signers.request_timeout": "front door: SignerPool, per request; signer: its hook sets the Redis lookup timeout",
}


def reloadable_keys() -> set[str]:
    config = Config()
    return {
        f"{section}.{key}"
        for section in type(config).FIELDS
        if isinstance(getattr(config, section), Model)
        for key in type(getattr(config, section)).FIELDS
        if not is_bootstrap(section, key)
    }


def test_every_key_a_reload_reports_as_applied_is_applied_somewhere():
    assert reloadable_keys() == set(READ_AT_USE) | set(HOOKED)
    assert not set(READ_AT_USE) & set(HOOKED)


def test_what_no_process_can_apply_live_needs_a_restart():
    for name in (
        "api.ssl_verify",
        "api.connection_limit",
        "security.keepalive_timeout",
        "api.endpoint",
        "service.port",
        "service.public_hosts",
    ):
        assert is_bootstrap(*name.split(".", 1)), name
