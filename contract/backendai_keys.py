"""Every key of Backend.AI's webserver configuration, and what webui-host does with it.

Backend.AI's ``configs/webserver/sample.conf`` (23.x) and ``sample.toml`` (25.12+) name keys we keep
with the same meaning (fields of ``contract.config.Config``), keys we only render into the Web UI's
``/config.toml``, keys we read under our own name (``ALIASES``), and keys that mean nothing here.
``account(raw)`` walks an operator's file and says, for every key in it, which of these it is:
nothing is silently ignored.  A key without effect is a warning by name (``check-config`` prints it,
every process logs it at start); a key whose setting we cannot honour is a problem (refused).
``docs/backendai-config.md`` is this table for operators.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Literal

from contract.fields import Model

Kind = Literal["honoured", "webui", "alias", "warned", "refused"]

# Backend.AI's name -> ours, applied when ours is not set in the same file.
ALIASES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("api", "health_check_failure_threshold"): ("api", "unhealthy_after"),
    ("api", "endpoint_selection_policy"): ("api", "endpoint_policy"),
    ("jwt", "token_expiration_seconds"): ("api", "jwt_expiration"),
    ("logging", "level"): ("runtime", "log_level"),
}

_LOGS = "logs are lines on stderr (runtime.log_format), filed by supervisord or Kubernetes"
_NOT_HERE = "has no effect in webui-host"

# (pattern of the dotted path, Backend.AI's meaning, what webui-host does). Patterns use fnmatch.
WARNED: list[tuple[str, str, str]] = [
    (
        "api.health_check_recovery_timeout",
        "how long unhealthy_since is kept (reserved by Backend.AI)",
        "ignored: an endpoint is back in use after one successful probe or request",
    ),
    ("jwt.algorithm", "algorithm of the GraphQL JWT", "HS256, the only one used; another value is refused"),
    (
        "session.login_session_extension_sec",
        "seconds /server/extend-login-session adds",
        "ignored: extending (and every request) restarts the full session.max_age",
    ),
    (
        "session.flush_on_startup",
        "delete every session when the webserver starts",
        "ignored: sessions survive restarts; end them with `webui-host sessions revoke USER`",
    ),
    ("webserver.event_loop", "asyncio or uvloop", "ignored: every process runs on uvloop"),
    ("webserver.ipc_base_path", "directory of IPC sockets", "ignored: use zmq.ipc_dir"),
    ("webserver.pid_file", "PID file of the daemon", "ignored: supervisord (or Kubernetes) tracks the processes"),
    ("logging.*", "Backend.AI's logging drivers (console, file, logstash, graylog) and levels", "ignored: " + _LOGS),
    ("debug.enabled", "debug mode of the webserver", "ignored: webui-host has no debug mode"),
    (
        "apollo_router.*",
        "route GraphQL through Apollo Router",
        "ignored: GraphQL goes to the Manager (apollo_router.enabled = true is refused)",
    ),
    ("pyroscope.*", "continuous profiling", _NOT_HERE),
    ("service_discovery.*", "service discovery of Backend.AI's components", _NOT_HERE + " (etcd registers agents)"),
    ("otel.*", "OpenTelemetry tracing", "honoured by tracing (see README, Tracing)"),
]

# Keys only rendered into the Web UI's /config.toml (frontdoor/webui_config.py; its test checks the list).
WEBUI: list[str] = [
    "service.allow_*",
    "service.always_enqueue_compute_session",
    "service.webui_debug",
    "service.mask_user_info",
    "service.single_sign_on_vendors",
    "service.sso_realm_name",
    "service.enable_container_commit",
    "service.hide_agents",
    "service.app_download_url",
    "service.enable_2fa",
    "service.force_2fa",
    "service.system_ssh_image",
    "service.directory_based_usage",
    "service.is_directory_size_visible",
    "service.edu_appname_prefix",
    "service.enable_extend_login_session",
    "service.enable_interactive_login_account_switch",
    "service.default_file_browser_image",
    "service.enable_reservoir",
    "service.enable_model_store",
    "service.wsproxy.url",
    "resources.*",
    "environments.*",
    "plugin.*",
    "ui.*",
    "license.*",
    "session.auto_logout",
    "session.max_count_for_preopen_ports",
    "service.force_endpoint_protocol",  # also the scheme of config.toml's apiEndpoint
]


@dataclass(frozen=True)
class KeyNote:
    path: str
    kind: Kind
    note: str = ""


def _model_kinds(model: type[Model], path: tuple[str, ...], value: Any, notes: list[KeyNote]) -> None:
    for key, sub in value.items():
        here = (*path, key)
        field = model.FIELDS.get(key)
        if field is not None and field.model is not None and isinstance(sub, dict):
            _model_kinds(field.model, here, sub, notes)
        elif field is not None:  # a value, or a table/list the field takes whole (csp, {host, port}, ...)
            notes.extend(KeyNote(".".join(leaf), "honoured") for leaf in _leaves(here, sub))
        else:
            _other(here, sub, notes)


def _leaves(path: tuple[str, ...], value: Any):
    """The keys under ``path``; an empty table sets nothing, so it has none."""
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _leaves((*path, key), sub)
    elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        for item in value:
            yield from _leaves(path, item)
    else:
        yield path


def _other(path: tuple[str, ...], value: Any, notes: list[KeyNote]) -> None:
    for leaf in _leaves(path, value):
        dotted = ".".join(leaf)
        lowered = dotted.lower()
        if leaf in ALIASES:
            notes.append(KeyNote(dotted, "alias", "read as " + ".".join(ALIASES[leaf])))
        elif any(fnmatch.fnmatchcase(lowered, pattern) for pattern in WEBUI):
            notes.append(KeyNote(dotted, "webui", "rendered into the Web UI's /config.toml"))
        elif found := next((note for pattern, _m, note in WARNED if fnmatch.fnmatchcase(lowered, pattern)), None):
            notes.append(KeyNote(dotted, "warned", found))
        else:
            notes.append(KeyNote(dotted, "warned", "unknown key: ignored"))


def account(raw: dict[str, Any], model: type[Model]) -> list[KeyNote]:
    """A note for every key of the (key-normalised) file, in file order."""
    notes: list[KeyNote] = []
    _model_kinds(model, (), raw, notes)
    return [_refusal(note, raw) for note in notes]


# Fields of our model that exist only so Backend.AI's files are read: they have no effect (warned).
UNUSED_FIELDS: dict[str, str] = {
    "session.redis.redis_helper_config.connection_ready_timeout": "ignored: webui-host's Redis pools never block waiting for a connection",
}


def _refusal(note: KeyNote, raw: dict[str, Any]) -> KeyNote:
    """Settings we cannot honour at all are refused rather than warned about; accepted-only fields warned."""
    if note.path in UNUSED_FIELDS:
        return KeyNote(note.path, "warned", UNUSED_FIELDS[note.path])
    if note.path == "session.redis.password" and not raw["session"]["redis"].get("sentinel"):
        return KeyNote(
            note.path,
            "warned",
            "ignored without sentinel: every process logs in to Redis as its own "
            "ACL user (docs/redis-etcd-ha.md, Passwords)",
        )
    if note.path == "apollo_router.enabled" and raw["apollo_router"].get("enabled") is True:
        return KeyNote(
            note.path,
            "refused",
            "Apollo Router is not supported: GraphQL goes to the Manager; set it to false or remove [apollo-router]",
        )
    if note.path == "jwt.algorithm" and str(raw["jwt"].get("algorithm")).upper() != "HS256":
        return KeyNote(note.path, "refused", "only HS256 is supported (as in Backend.AI's Manager)")
    return note


def apply_aliases(raw: dict[str, Any]) -> dict[str, Any]:
    """Copy Backend.AI's names onto ours where the file does not set ours."""
    for (section, key), (our_section, our_key) in ALIASES.items():
        table = raw.get(section)
        if not isinstance(table, dict) or key not in table:
            continue
        target = raw.get(our_section)
        if target is None:
            target = raw[our_section] = {}
        if isinstance(target, dict) and our_key not in target:
            value = table[key]
            if (section, key) == ("logging", "level") and isinstance(value, str):
                value = {"WARN": "WARNING", "CRITICAL": "ERROR", "NOTSET": "DEBUG"}.get(value.upper(), value.upper())
            target[our_key] = value
    return raw
