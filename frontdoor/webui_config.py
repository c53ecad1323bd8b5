"""``GET /config.toml``: the settings file the official Backend.AI Web UI loads at start.

It is rendered per request because ``apiEndpoint`` is the address the browser used
(``scheme://Host``), and ``connectionMode = "SESSION"`` makes the Web UI send its API calls through
us as ``/func/...`` with our session cookie.  Keys and defaults are those of Backend.AI's webserver
23.09 (the release whose bundle we host); operators set them in the same sections of our TOML file.

A key 23.09 gives a default is always sent, with the operator's value or that default.  A key it has
no default for (``isDirectorySizeVisible``), or that later releases added (``enableModelStore``,
``allowNonAuthTCP``, ...), is sent only when the operator sets it; otherwise its line is commented
out, exactly as Backend.AI renders an unset value, so the Web UI applies its own default.
"""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

from contract.config import Config
from contract.hosts import canonical_host
from frontdoor.static_rules import NO_STORE
from frontdoor.templating import text_environment

TEMPLATE = "webui/config.toml.j2"

ONLY_IF_SET = None  # the default of a key Backend.AI 23.09 leaves out unless the operator sets it

# (section in our file, key) -> default, for every value the template shows.
DEFAULTS: dict[tuple[str, str], Any] = {
    ("ui", "default_environment"): None,
    ("ui", "default_import_environment"): None,
    ("ui", "brand"): None,
    ("ui", "menu_blocklist"): None,
    ("ui", "menu_inactivelist"): None,
    ("service", "enable_signup"): False,
    ("service", "allow_change_signin_mode"): False,
    ("service", "allow_anonymous_change_password"): False,
    ("service", "allow_project_resource_monitor"): False,
    ("service", "allow_manual_image_name_for_session"): False,
    ("service", "allow_signup_without_confirmation"): False,
    ("service", "always_enqueue_compute_session"): False,
    ("service", "webui_debug"): False,
    ("service", "mask_user_info"): False,
    ("service", "single_sign_on_vendors"): None,
    ("service", "sso_realm_name"): "",
    ("service", "enable_container_commit"): False,
    ("service", "hide_agents"): True,
    ("service", "app_download_url"): "",
    ("service", "allow_app_download_panel"): True,
    ("service", "enable_2FA"): False,
    ("service", "force_2FA"): False,
    ("service", "system_SSH_image"): "",
    ("service", "directory_based_usage"): False,
    ("service", "allow_custom_resource_allocation"): True,
    ("service", "is_directory_size_visible"): ONLY_IF_SET,  # not in 23.09's schema
    ("service", "edu_appname_prefix"): "",
    ("service", "wsproxy_url"): "",
    # Keys of later releases' templates: sent only when set.
    ("api", "domain"): ONLY_IF_SET,
    ("ui", "enable_model_folders"): ONLY_IF_SET,
    ("service", "enable_model_store"): ONLY_IF_SET,
    ("service", "allow_theme_mode"): ONLY_IF_SET,
    ("service", "enable_extend_login_session"): ONLY_IF_SET,
    ("service", "enable_interactive_login_account_switch"): ONLY_IF_SET,
    ("service", "default_file_browser_image"): ONLY_IF_SET,
    ("service", "enable_reservoir"): ONLY_IF_SET,
    ("resources", "allow_non_auth_tcp"): ONLY_IF_SET,
    ("resources", "max_gaudi2_devices_per_container"): ONLY_IF_SET,
    ("resources", "max_atom_plus_devices_per_container"): ONLY_IF_SET,
    ("environments", "show_non_installed_images"): ONLY_IF_SET,
    ("session", "auto_logout"): False,
    ("session", "max_count_for_preopen_ports"): 10,
    ("resources", "open_port_to_public"): False,
    ("resources", "allow_preferred_port"): False,
    ("resources", "max_cpu_cores_per_container"): 64,
    ("resources", "max_memory_per_container"): 64,
    ("resources", "max_cuda_devices_per_container"): 16,
    ("resources", "max_cuda_shares_per_container"): 16,
    ("resources", "max_rocm_devices_per_container"): 10,
    ("resources", "max_tpu_devices_per_container"): 8,
    ("resources", "max_ipu_devices_per_container"): 8,
    ("resources", "max_atom_devices_per_container"): 8,
    ("resources", "max_warboy_devices_per_container"): 8,
    ("resources", "max_shm_per_container"): 2.0,
    ("resources", "max_file_upload_size"): 4294967296,
    ("environments", "allowlist"): None,
    ("plugin", "page"): None,
    ("license", "edition"): "Open Source",
    ("license", "valid_since"): "",
    ("license", "valid_until"): "",
    ("pipeline", "endpoint"): "http://127.0.0.1:9500",
    ("pipeline", "frontend_endpoint"): "http://127.0.0.1:3000",
}


def toml_value(value: Any) -> str | None:
    """A TOML scalar for ``value``; None when it has none (the line is then commented out).

    JSON's string escapes are all valid TOML basic-string escapes, so a quote or newline in an
    operator's value (or in a Host header) cannot break out of the string.
    """
    if value is None or isinstance(value, dict):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        items = [toml_value(item) for item in value]
        return None if None in items else "[" + ", ".join(items) + "]"  # type: ignore[arg-type]
    return json.dumps(str(value))


def toml_field(key: str, value: Any) -> str:
    encoded = toml_value(value)
    return f"# {key} = " if encoded is None else f"{key} = {encoded}"


def toml_list_field(key: str, value: Any) -> str:
    """Backend.AI writes lists as one comma-joined string (``"saml,openid"``)."""
    if isinstance(value, (list, tuple)):
        value = ",".join(str(item) for item in value)
    return toml_field(key, value)


def _section(config: Config, name: str) -> dict[str, Any]:
    """The keys of one section the operator wrote (our own models' defaults are not Backend.AI's)."""
    if name in ("service", "session", "api", "pipeline"):
        model = getattr(config, name)
        written = {key: getattr(model, key) for key in model.fields_set}
        return {**written, **model.extras}
    extra = config.extras.get(name)
    return extra if isinstance(extra, dict) else {}


def webui_settings(config: Config) -> dict[tuple[str, str], Any]:
    """Every value the template shows: the operator's where given, Backend.AI's default otherwise."""
    sections: dict[str, dict[str, Any]] = {}
    values = {}
    for (section, key), default in DEFAULTS.items():
        table = sections.setdefault(section, _section(config, section))
        values[(section, key)] = table.get(key, default)
    wsproxy = sections["service"].get("wsproxy")
    if isinstance(wsproxy, dict) and "url" in wsproxy:
        values[("service", "wsproxy_url")] = wsproxy["url"]
    return values


def endpoint_url(config: Config, request: web.Request) -> str:
    """``scheme://host[:port]`` of the request, its Host lower-cased (``frontdoor.host_check`` has
    already refused any Host that is not a configured public host or loopback)."""
    scheme = getattr(config.service, "force_endpoint_protocol", None) or request.scheme
    return f"{scheme}://{canonical_host(request.host)}"


def render_webui_config(config: Config, endpoint: str) -> str:
    values = webui_settings(config)
    return (
        text_environment()
        .get_template(TEMPLATE)
        .render(
            endpoint_url=endpoint,
            api_text=config.api.text,  # always sent (23.09 requires [api] text; ours defaults it)
            value=lambda section, key: values[(section, key)],
            field=toml_field,
            list_field=toml_list_field,
        )
    )


class WebUiConfig:
    def __init__(self, config: Config):
        self._config = config

    def register(self, app: web.Application) -> None:
        app.router.add_get("/config.toml", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        text = render_webui_config(self._config, endpoint_url(self._config, request))
        # apiEndpoint names the Host (one of ours: frontdoor.host_check refused the others).
        return web.Response(text=text, content_type="text/plain", headers={"Cache-Control": NO_STORE, "Vary": "Host"})
