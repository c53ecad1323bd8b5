"""What ``webui-host run`` prints before handing over to supervisord: where everything is, how to drive it."""

from __future__ import annotations

import os
from pathlib import Path

from contract.config import Config
from webui_host import stack
from webui_host.host_setup import Setup
from webui_host.manager_choice import ManagerChoice

DEVSTACK_LOGIN = ("admin@lablup.com", "wJalrXUt")


def banner(setup: Setup, choice: ManagerChoice, conf_path: Path) -> str:
    config = setup.config
    ctl = f"{_short(stack.supervisorctl_path())} -c {_short(conf_path)}"
    lines = ["webui-host: starting under supervisord (Ctrl-C stops everything)", ""]
    lines.append(f"  web UI      {frontdoor_url(config)}")
    if choice.devstack:
        user, password = DEVSTACK_LOGIN
        lines.append(f"  Manager     development Manager at {config.devstack_endpoint}")
        lines.append(f"              log in as {user} / {password}")
    elif choice.endpoints:
        lines.append(f"  Manager     {', '.join(choice.endpoints)} (from {choice.source})")
    else:
        lines.append("  Manager     not known yet (etcd unreachable)")
    redis_kind = "embedded" if config.embeds_redis else "external"
    etcd_kind = "embedded" if config.embeds_etcd else "external"
    lines.append(f"  Redis       {config.redis_addr} ({redis_kind})")
    lines.append(f"  etcd        {config.etcd_addr} ({etcd_kind})")
    lines.append(f"  state       {setup.state_dir}")
    lines.append(f"  logs        {setup.state_dir / 'logs'}/<program>.log")
    lines.append(f"  status      {ctl} status")
    lines.append(f"  ops         http://{_display_host(config.ops.ip)}:{config.ops.port}/metrics  (/livez, /readyz)")
    lines.append(f"  restart     {ctl} restart 'signers:*'    (one: signers:signer_00)")
    config_arg = f" -f {_short(setup.config_path)}" if setup.config_path else ""
    if setup.effective_raw is not None:  # run --state-dir
        config_arg += f" --state-dir {_short(setup.state_dir)}"
    lines.append(
        f"  roll        {_short(stack.supervisorctl_path().with_name('webui-host'))} roll-signers{config_arg}"
        "    (one signer at a time)"
    )
    lines.append(f"  stop        Ctrl-C, or {ctl} shutdown")
    for note in choice.notes:
        lines.append(f"  note        {note}")
    for warning in config.warnings:  # keys of the file without effect here, by name
        lines.append(f"  warning     {warning}")
    return "\n".join(lines) + "\n"


def frontdoor_url(config: Config) -> str:
    scheme = "https" if config.service.ssl_enabled else "http"
    return f"{scheme}://{_display_host(config.service.ip)}:{config.service.port}/"


def _display_host(ip: str) -> str:
    if ip in ("0.0.0.0", ""):
        return "127.0.0.1"
    if ip == "::":
        return "[::1]"
    return f"[{ip}]" if ":" in ip else ip


def _short(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if not rel.startswith("..") and len(rel) < len(str(path)) else str(path)
