"""Web API Deployments on their face: what may be stored, and the Manager's built-in one (no I/O).

A definition breaking these rules is refused at create/update (400, every problem listed); one found
stored anyway (written around the API) is a fault its agents will not deploy.
"""

from __future__ import annotations

from typing import Any, Iterable
from urllib.parse import urlsplit

from contract.webapi import (
    DEFAULT_GROUP,
    MANAGER_DEPLOYMENT,
    MANAGER_SIGNING,
    Deployment,
    InvalidDefinition,
    SigningMode,
)

MANAGER_ROUTE = "/func"
DEPLOYMENT_ROUTE_ROOT = "/webapi/"
MAX_UPSTREAMS = 16


def parse_deployment(doc: dict[str, Any]) -> Deployment:
    """A deployment fit to be stored: its shape and every face rule, all problems at once."""
    deployment = Deployment.from_dict(doc)
    problems = definition_problems(deployment)
    if problems:
        raise InvalidDefinition(problems)
    return deployment


def definition_problems(deployment: Deployment) -> list[str]:
    """What makes a deployment invalid on its face: refused at create/update, a fault if found stored."""
    return [*_route_problems(deployment), *_signing_problems(deployment), *_upstream_problems(deployment.upstreams)]


def _route_problems(deployment: Deployment) -> list[str]:
    expected = MANAGER_ROUTE if deployment.name == MANAGER_DEPLOYMENT else DEPLOYMENT_ROUTE_ROOT + deployment.name
    if deployment.route_prefix != expected:
        return [f"route_prefix: the {deployment.name!r} deployment is served at {expected}"]
    return []


def _signing_problems(deployment: Deployment) -> list[str]:
    if deployment.name == MANAGER_DEPLOYMENT:
        if deployment.signing not in MANAGER_SIGNING:
            return ["signing: the manager deployment is signed with 'hmac' or 'hmac+jwt'"]
        return []
    if deployment.signing in MANAGER_SIGNING:
        return [
            f"signing: {deployment.signing.value!r} sends users' Backend.AI credentials and is reserved for "
            "the manager deployment; use 'identity' (a signed identity assertion) or 'none'"
        ]
    return []


def _upstream_problems(upstreams: tuple[str, ...]) -> list[str]:
    if not upstreams:
        return ["upstreams: at least one upstream URL"]
    if len(upstreams) > MAX_UPSTREAMS:
        return [f"upstreams: at most {MAX_UPSTREAMS} URLs"]
    return [f"upstreams: {url!r} {problem}" for url in upstreams for problem in _url_problems(url)]


def _url_problems(url: str) -> list[str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return ["is not an http(s) URL"]
    if not parts.hostname:
        return ["has no host"]
    problems = []
    try:
        port = parts.port
    except ValueError:
        return ["has a port outside 1-65535"]
    if port == 0:
        problems.append("has a port outside 1-65535")
    elif port in (80, 443) and f":{port}" in parts.netloc:
        # The Manager signs the Host it receives; aiohttp drops a default port, so the signature would break.
        problems.append("names its scheme's default port; leave it out")
    if parts.query or parts.fragment or "@" in parts.netloc:
        problems.append("must not carry a query, fragment or credentials")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        problems.append("contains white space or control characters")
    return problems


def deployment_faults(deployment: Deployment) -> list[str]:
    """What keeps an agent from deploying a stored deployment (entries written around the API)."""
    return definition_problems(deployment)


def manager_deployment(endpoints: Iterable[str], group: str = DEFAULT_GROUP) -> Deployment:
    """The Manager behind ``/func``, built from the configuration (etcd may redefine it)."""
    return Deployment(MANAGER_DEPLOYMENT, group, MANAGER_ROUTE, tuple(endpoints), SigningMode.HMAC_JWT)
