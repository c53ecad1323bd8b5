"""The text of supervisord.conf, from values already escaped for it (``supervisord_conf`` prepares them).

Plain string building, not a template engine: ``webui-host run`` renders this before it execs
supervisord, and importing jinja2 alone took ~35 ms of that serial time.
"""

from __future__ import annotations

from collections.abc import Sequence

OPERATOR_HEADER = """\
; supervisord.conf for an operator's webui-host: the repository's own copy, rendered by
;   .venv/bin/webui-host supervisord-conf --operator [-f webui-host.toml] > supervisord.conf
; (a test checks that this file equals a fresh rendering; re-render it instead of editing it).
;
; Paths are relative to this file's directory (%(here)s): the venv in .venv, the configuration in
; webui-host.toml (copy webui-host.toml.example; it must name Redis, etcd and the Manager, since no
; embedded server is started here), supervisord's socket, pidfile and logs in .state.
; numprocs below follow [signers] count and [service] workers of the file it was rendered with.
;
; Once, from this directory:  .venv/bin/webui-host prepare -f webui-host.toml --operator
;   (creates .state/logs and the state, secrets and ipc directories of webui-host.toml)
; Start:    .venv/bin/supervisord -c supervisord.conf        (add -n to stay in the foreground)
; Status:   .venv/bin/supervisorctl -c supervisord.conf status
; Restart the signer pool:  .venv/bin/supervisorctl -c supervisord.conf restart 'signers:*'
;   (requests wait up to [signers] pool_wait meanwhile; one signer at a time, with no wait:
;    .venv/bin/webui-host roll-signers -f webui-host.toml)
; Reload the configuration:  .venv/bin/supervisorctl -c supervisord.conf signal HUP all
; Stop:     .venv/bin/supervisorctl -c supervisord.conf shutdown
"""

HOST_HEADER = """\
; supervisord.conf rendered by `webui-host run` for this state directory; it is rewritten at each start.
; Status:   supervisorctl -c <this file> status
; Restart the signer pool:  supervisorctl -c <this file> restart 'signers:*'  (or webui-host roll-signers)
; Reload the configuration:  supervisorctl -c <this file> signal HUP 'frontdoor:*' 'signers:*' session_daemon
;   (not "all": the embedded etcd and the devstack would take SIGHUP as a stop)
"""


def credentials(auth: tuple[str, str] | None) -> str:
    return f"username={auth[0]}\npassword={auth[1]}\n" if auth else ""


def program_section(p, process_name: str, log_maxbytes: str, log_backups: int) -> str:
    """``p``: a ``supervisord_conf.Program`` whose fields are conf text already."""
    numbered = f"process_name={process_name}\nnumprocs={p.numprocs}\n" if p.numprocs is not None else ""
    return f"""
; {p.comment}
[program:{p.name}]
command={p.command}
{numbered}directory={p.directory}
environment={p.environment}
priority={p.priority}
autostart=true
autorestart=true
startsecs=1
stopsignal=TERM
stopwaitsecs={p.stopwaitsecs}
stopasgroup=true
killasgroup=true
umask=077
redirect_stderr=true
stdout_logfile={p.logfile}
stdout_logfile_maxbytes={log_maxbytes}
stdout_logfile_backups={log_backups}
"""


def render(
    *,
    operator: bool,
    nodaemon: bool,
    pidfile: str,
    logfile: str,
    childlogdir: str,
    socket: str,
    auth: tuple[str, str] | None,
    log_maxbytes: str,
    log_backups: int,
    process_name: str,
    programs: Sequence,
    signer_group: str,
    signer_group_priority: int,
) -> str:
    sections = "".join(program_section(p, process_name, log_maxbytes, log_backups) for p in programs)
    return f"""{OPERATOR_HEADER if operator else HOST_HEADER}
[supervisord]
nodaemon={"true" if nodaemon else "false"}
pidfile={pidfile}
logfile={logfile}
logfile_maxbytes={log_maxbytes}
logfile_backups={log_backups}
loglevel=info
childlogdir={childlogdir}
identifier=webui-host

[unix_http_server]
file={socket}
chmod=0700
{credentials(auth)}
[supervisorctl]
serverurl=unix://{socket}
{credentials(auth)}
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
{sections}
; `supervisorctl restart signers:*` rolls the pool; `supervisorctl stop signers:signer_01` stops one.
[group:{signer_group}]
programs=signer
priority={signer_group_priority}
"""
