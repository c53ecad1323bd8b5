"""``/config.toml`` key by key against Backend.AI 23.09's rendering: a key with a 23.09 default is
always sent (the operator's value or that default); a key 23.09 has no default for, or that later
releases added, is sent only when the operator sets it; otherwise its line is commented out."""

from __future__ import annotations

import tomllib

import pytest

from contract.config import parse_config
from frontdoor.webui_config import render_webui_config

ABSENT = object()

# Backend.AI 23.09's rendering of a configuration that sets nothing optional, key by key.
DEFAULT_23_09 = {
    "general": {
        "apiEndpoint": "http://127.0.0.1:8090",
        "apiEndpointText": "Backend.AI",
        "connectionMode": "SESSION",
        "signupSupport": False,
        "allowChangeSigninMode": False,
        "allowAnonymousChangePassword": False,
        "allowProjectResourceMonitor": False,
        "allowManualImageNameForSession": False,
        "allowSignupWithoutConfirmation": False,
        "alwaysEnqueueComputeSession": False,
        "autoLogout": False,
        "debug": False,
        "maskUserInfo": False,
        "ssoRealmName": "",
        "enableContainerCommit": False,
        "hideAgents": True,
        "appDownloadUrl": "",
        "allowAppDownloadPanel": True,
        "enable2FA": False,
        "force2FA": False,
        "systemSSHImage": "",
        "directoryBasedUsage": False,
        "maxCountForPreopenPorts": 10,
        "allowCustomResourceAllocation": True,
        "eduAppNamePrefix": "",
    },
    "resources": {
        "openPortToPublic": False,
        "allowPreferredPort": False,
        "maxCPUCoresPerContainer": 64,
        "maxMemoryPerContainer": 64,
        "maxCUDADevicesPerContainer": 16,
        "maxCUDASharesPerContainer": 16,
        "maxROCMDevicesPerContainer": 10,
        "maxTPUDevicesPerContainer": 8,
        "maxIPUDevicesPerContainer": 8,
        "maxATOMDevicesPerContainer": 8,
        "maxWarboyDevicesPerContainer": 8,
        "maxShmPerContainer": 2.0,
        "maxFileUploadSize": 4294967296,
    },
    "environments": {},
    "menu": {},
    "plugin": {},
    "wsproxy": {"proxyURL": ""},
    "license": {"edition": "Open Source", "validSince": "", "validUntil": ""},
    "pipeline": {"endpoint": "http://127.0.0.1:9500", "frontendEndpoint": "http://127.0.0.1:3000"},
}


def render(raw: dict) -> tuple[dict, str]:
    text = render_webui_config(parse_config(raw), "http://127.0.0.1:8090")
    return tomllib.loads(text), text


def test_an_unset_configuration_renders_exactly_what_23_09_renders():
    doc, _ = render({})
    assert doc == DEFAULT_23_09


# (operator's file, section, key in config.toml, value sent: ABSENT = commented out)
CASES = [
    ({}, "general", "isDirectorySizeVisible", ABSENT),
    ({"service": {"is_directory_size_visible": False}}, "general", "isDirectorySizeVisible", False),
    ({"service": {"is-directory-size-visible": True}}, "general", "isDirectorySizeVisible", True),
    ({}, "general", "enableExtendLoginSession", ABSENT),
    ({"service": {"enable_extend_login_session": True}}, "general", "enableExtendLoginSession", True),
    ({}, "general", "apiDomainName", ABSENT),
    ({"api": {"domain": "research"}}, "general", "apiDomainName", "research"),
    ({}, "general", "siteDescription", ABSENT),
    ({"ui": {"brand": "Lab"}}, "general", "siteDescription", "Lab"),
    ({}, "general", "defaultSessionEnvironment", ABSENT),
    (
        {"ui": {"default_environment": "cr.backend.ai/stable/python"}},
        "general",
        "defaultSessionEnvironment",
        "cr.backend.ai/stable/python",
    ),
    ({}, "general", "singleSignOnVendors", ABSENT),
    ({"service": {"single_sign_on_vendors": "saml,openid"}}, "general", "singleSignOnVendors", "saml,openid"),
    ({}, "general", "enableModelStore", ABSENT),
    ({"service": {"enable_model_store": True}}, "general", "enableModelStore", True),
    ({}, "general", "enableModelFolders", ABSENT),
    ({"ui": {"enable_model_folders": False}}, "general", "enableModelFolders", False),
    ({}, "general", "enableInteractiveLoginAccountSwitch", ABSENT),
    (
        {"service": {"enable_interactive_login_account_switch": False}},
        "general",
        "enableInteractiveLoginAccountSwitch",
        False,
    ),
    ({}, "general", "allowThemeMode", ABSENT),
    ({"service": {"allow_theme_mode": "light"}}, "general", "allowThemeMode", "light"),
    (
        {"service": {"default_file_browser_image": "cr.backend.ai/fb:1"}},
        "general",
        "defaultFileBrowserImage",
        "cr.backend.ai/fb:1",
    ),
    ({"service": {"enable_reservoir": True}}, "general", "enableReservoir", True),
    ({"service": {"hide_agents": False}}, "general", "hideAgents", False),
    ({}, "resources", "allowNonAuthTCP", ABSENT),
    ({"resources": {"allow_non_auth_tcp": True}}, "resources", "allowNonAuthTCP", True),
    ({"resources": {"max_gaudi2_devices_per_container": 4}}, "resources", "maxGaudi2DevicesPerContainer", 4),
    ({"resources": {"max_atom_plus_devices_per_container": 2}}, "resources", "maxATOMPlUSDevicesPerContainer", 2),
    ({}, "environments", "showNonInstalledImages", ABSENT),
    ({"environments": {"show_non_installed_images": True}}, "environments", "showNonInstalledImages", True),
    ({"environments": {"allowlist": ["a/b", "c/d"]}}, "environments", "allowlist", "a/b,c/d"),
    (
        {"service": {"wsproxy": {"url": "https://ws.example.com:5050"}}},
        "wsproxy",
        "proxyURL",
        "https://ws.example.com:5050",
    ),
    ({"pipeline": {"frontend-endpoint": "http://p:3000"}}, "pipeline", "frontendEndpoint", "http://p:3000"),
    ({"session": {"max_count_for_preopen_ports": 3}}, "general", "maxCountForPreopenPorts", 3),
    ({"service": {"port": 9000, "workers": 4}}, "general", "isDirectorySizeVisible", ABSENT),  # ours: not theirs
]


@pytest.mark.parametrize("raw, section, key, expected", CASES)
def test_optional_keys_are_sent_only_when_set(raw, section, key, expected):
    doc, text = render(raw)
    if expected is ABSENT:
        assert key not in doc[section]
        assert f"\n# {key} = \n" in text  # commented out, as Backend.AI renders an unset value
    else:
        assert doc[section][key] == expected
