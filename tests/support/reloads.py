"""SIGHUP reload of a running stack, as an operator does it: edit keys of the TOML file, send SIGHUP to
every process (``supervisorctl signal HUP``) and wait until each has logged its ``config_reload``."""

from __future__ import annotations

import json

from tests.support.polling import eventually
from tests.support.stack import RunningStack


def with_keys(text: str, changes: dict[str, dict[str, str]]) -> str:
    """``text`` with ``key = value`` set in each ``[table]`` (a missing table is appended)."""
    for table, keys in changes.items():
        header = f"[{table}]\n"
        if header not in text:
            text += f"\n{header}"
        head, _, rest = text.partition(header)
        body, _, tail = rest.partition("\n[")
        lines = [line for line in body.splitlines() if line.split("=")[0].strip() not in keys]
        lines += [f"{key} = {value}" for key, value in keys.items()]
        text = head + header + "\n".join(lines) + "\n" + ("\n[" + tail if tail else "")
    return text


def process_logs(stack: RunningStack) -> tuple[str, ...]:
    """The log file of every process that reloads: each front-door worker, each signer, the daemon."""
    workers = [f"frontdoor_{n:02d}.log" for n in range(stack.config.service.workers)]
    signers = [f"signer_{n:02d}.log" for n in range(stack.config.signers.count)]
    return (*workers, *signers, "session_daemon.log")


def reload_events(stack: RunningStack, names: tuple[str, ...]) -> dict[str, list[dict]]:
    logs = stack.config.runtime.state_dir / "logs"
    found = {}
    for name in names:
        path = logs / name
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        found[name] = [doc for doc in map(_json, lines) if doc.get("event") == "config_reload"]
    return found


def _json(line: str) -> dict:
    try:
        return json.loads(line)
    except ValueError:
        return {}


async def sighup(stack: RunningStack, text: str, names: tuple[str, ...] | None = None) -> dict[str, dict]:
    """Write ``text`` as the file, SIGHUP every process, wait until each logged its reload: the events
    (of the processes logging to ``names``, by default all of them)."""
    names = names or process_logs(stack)
    before = {name: len(events) for name, events in reload_events(stack, names).items()}
    stack.config_path.write_text(text)
    assert "ERROR" not in stack.supervisorctl("signal", "HUP", "frontdoor:*", "signers:*", "session_daemon")

    def all_reloaded():
        events = reload_events(stack, names)
        if all(len(events[name]) > before[name] for name in names):
            return {name: events[name][-1] for name in names}
        return None

    return await eventually(all_reloaded, timeout=15, what="a config_reload line from every process")
