"""Web API Groups: the signer pool's organisation, as data and rules (no I/O).

- A *Web API Agent* is one signer process; it reports a state under its etcd lease.
- A *Web API Group* is a named set of agents sharing deployments and permissions.  ``DEFAULT``
  exists out of the box; agents naming an undefined group are not used and are listed as Unknown.
- A *Web API Deployment* is a proxied upstream API served by one group (the Manager behind
  ``/func`` is the first, built from the configuration).

Kept in etcd under ``/<namespace>/``: ``groups/<name>``, ``deployments/<name>``,
``overrides/<agent id>`` (an admin's Out Of Service), ``generations/<group>`` (bumped by Recreate),
``commands/<agent id>`` (Shutdown) and ``agents/<agent id>`` (the lease-bound registration).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from contract.etcd_layout import AgentRecord, AgentState

DEFAULT_GROUP = "DEFAULT"
MANAGER_DEPLOYMENT = "manager"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
ANY_USER = "*"
# The fault a signer reports with Down when only its session store (Redis) is lost: a front door with
# no other signer answers 503 at once instead of waiting pool_wait for one to come back.
STORE_DOWN_FAULT = "store_unavailable"


class Action(str, Enum):
    READ = "read"
    CREATE = "create"
    DELETE = "delete"
    UPDATE = "update"
    RECREATE = "recreate"


class SigningMode(str, Enum):
    """What an upstream receives about the user.

    ``hmac``/``hmac+jwt`` carry the user's Backend.AI credentials and are reserved for the Manager
    deployment; every other deployment gets ``identity`` (a short-lived assertion signed with
    webui-host's own key, useless at the Manager) or ``none``.
    """

    HMAC = "hmac"
    HMAC_JWT = "hmac+jwt"
    IDENTITY = "identity"
    NONE = "none"


MANAGER_SIGNING = frozenset({SigningMode.HMAC, SigningMode.HMAC_JWT})


class BalancingPolicy(str, Enum):
    LEAST_OUTSTANDING = "least_outstanding"
    ROUND_ROBIN = "round_robin"


class InvalidDefinition(ValueError):
    """A group or deployment that cannot be accepted; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Grant:
    """Who (``role:<role>``, ``user:<email>`` or ``*`` for any logged-in user) may do what."""

    subject: str
    actions: tuple[Action, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "actions": [a.value for a in self.actions]}


@dataclass(frozen=True)
class Caller:
    user_id: str
    role: str
    endpoint_admin: bool = False

    @property
    def platform_admin(self) -> bool:
        return self.role == "superadmin"

    def matches(self, subject: str) -> bool:
        return subject == ANY_USER or subject == f"role:{self.role}" or subject == f"user:{self.user_id}"


@dataclass(frozen=True)
class GroupDefinition:
    name: str
    grants: tuple[Grant, ...] = ()
    description: str = ""
    created_by: str = ""
    created_at: float = 0.0

    def to_json(self) -> bytes:
        doc = {
            "name": self.name,
            "grants": [g.to_dict() for g in self.grants],
            "description": self.description,
            "created_by": self.created_by,
            "created_at": self.created_at,
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> GroupDefinition:
        problems = []
        name = doc.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            problems.append("name: 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit")
        grants = []
        raw_grants = doc.get("grants", [])
        if not isinstance(raw_grants, list):
            problems.append("grants: must be a list")
            raw_grants = []
        for index, raw in enumerate(raw_grants):
            try:
                grants.append(_grant(raw))
            except ValueError as exc:
                problems.append(f"grants[{index}]: {exc}")
        description = doc.get("description", "")
        if not isinstance(description, str) or len(description) > 500:
            problems.append("description: a string of at most 500 characters")
        if problems:
            raise InvalidDefinition(problems)
        return cls(name, tuple(grants), description, str(doc.get("created_by", "")), float(doc.get("created_at", 0.0)))


def _grant(raw: Any) -> Grant:
    if not isinstance(raw, dict):
        raise ValueError("must be an object with subject and actions")
    subject = raw.get("subject")
    if not isinstance(subject, str) or not (subject == ANY_USER or re.match(r"^(role|user):[^\s:]{1,254}$", subject)):
        raise ValueError("subject must be '*', 'role:<role>' or 'user:<email>'")
    actions = raw.get("actions")
    if not isinstance(actions, list) or not actions:
        raise ValueError("actions must be a non-empty list")
    try:
        return Grant(subject, tuple(Action(a) for a in dict.fromkeys(actions)))
    except ValueError:
        raise ValueError(f"actions must be among {[a.value for a in Action]}") from None


def default_group() -> GroupDefinition:
    """``DEFAULT`` when etcd has no definition: every logged-in user may read it."""
    return GroupDefinition(DEFAULT_GROUP, (Grant(ANY_USER, (Action.READ,)),), "Built-in group of the signer pool")


def allowed(caller: Caller, action: Action, group: GroupDefinition) -> bool:
    """Platform and endpoint admins may do everything; others need a grant in the group."""
    if caller.platform_admin or caller.endpoint_admin:
        return True
    return any(caller.matches(grant.subject) and action in grant.actions for grant in group.grants)


def may_define_groups(caller: Caller) -> bool:
    """Groups, their grants, the Manager deployment and agents are for platform and endpoint admins."""
    return caller.platform_admin or caller.endpoint_admin


def may_define_deployment(caller: Caller, name: str) -> bool:
    """Whoever a group's grants allow may define ``/webapi/<name>/`` deployments, never the Manager's."""
    return name != MANAGER_DEPLOYMENT or may_define_groups(caller)


def may_call(caller: Caller, deployment_name: str, group: GroupDefinition | None) -> bool:
    """Every logged-in user may reach the Manager (it authorises for itself); other deployments need Read."""
    if deployment_name == MANAGER_DEPLOYMENT:
        return True
    return group is not None and allowed(caller, Action.READ, group)


@dataclass(frozen=True)
class Deployment:
    name: str
    group: str
    route_prefix: str
    upstreams: tuple[str, ...]
    signing: SigningMode = SigningMode.IDENTITY
    policy: BalancingPolicy = BalancingPolicy.LEAST_OUTSTANDING
    connect_timeout: float = 10.0
    response_timeout: float = 300.0
    revision: int = 0
    updated_at: float = 0.0

    def to_json(self) -> bytes:
        doc = asdict(self)
        doc.update(upstreams=list(self.upstreams), signing=self.signing.value, policy=self.policy.value)
        return json.dumps(doc, separators=(",", ":")).encode()

    @property
    def carries_credentials(self) -> bool:
        """Whether upstreams receive the user's Backend.AI credentials (only the Manager may)."""
        return self.name == MANAGER_DEPLOYMENT and self.signing in MANAGER_SIGNING

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Deployment:
        """Parse the shape only; ``definition_problems`` says whether it may be stored."""
        problems = []
        name, group, prefix = doc.get("name"), doc.get("group"), doc.get("route_prefix")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            problems.append("name: 1-63 letters, digits, '_', '.' or '-'")
        if not isinstance(group, str) or not NAME_PATTERN.match(group):
            problems.append("group: a group name")
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            problems.append("route_prefix: a path starting with '/'")
        upstreams = doc.get("upstreams")
        if isinstance(upstreams, str):
            upstreams = [upstreams]
        if not isinstance(upstreams, list) or not all(isinstance(u, str) for u in upstreams):
            problems.append("upstreams: a list of URLs")
            upstreams = []
        default_signing = SigningMode.HMAC_JWT if name == MANAGER_DEPLOYMENT else SigningMode.IDENTITY
        try:
            signing = SigningMode(doc.get("signing", default_signing.value))
        except ValueError:
            problems.append(f"signing: one of {[m.value for m in SigningMode]}")
            signing = default_signing
        try:
            policy = BalancingPolicy(doc.get("policy", BalancingPolicy.LEAST_OUTSTANDING.value))
        except ValueError:
            problems.append(f"policy: one of {[p.value for p in BalancingPolicy]}")
            policy = BalancingPolicy.LEAST_OUTSTANDING
        timeouts = [doc.get("connect_timeout", 10.0), doc.get("response_timeout", 300.0)]
        if not all(isinstance(t, (int, float)) and not isinstance(t, bool) and 0 < t <= 3600 for t in timeouts):
            problems.append("connect_timeout and response_timeout: seconds between 0 and 3600")
            timeouts = [10.0, 300.0]
        if problems:
            raise InvalidDefinition(problems)
        return cls(
            name,
            group,
            prefix.rstrip("/") or "/",
            tuple(upstreams),
            signing,
            policy,
            float(timeouts[0]),
            float(timeouts[1]),
            int(doc.get("revision", 0)),
            float(doc.get("updated_at", 0.0)),
        )


# --- agent states -------------------------------------------------------------------------

ERROR_STATES = frozenset({AgentState.OUT_OF_SERVICE, AgentState.STARTING})


@dataclass(frozen=True)
class AgentView:
    """An agent as the overview shows it: reported state resolved against overrides and liveness."""

    agent_id: str
    group: str
    state: str
    reported_state: str | None
    fault: str | None
    host: str
    pid: int
    version: str
    started_at: float
    override: str | None = None
    synced_generation: int = 0
    serving: tuple[str, ...] = ()  # the deployments it has applied and signs for

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "serving": list(self.serving)}


def effective_state(record: AgentRecord | None, override: str | None) -> str:
    """First matching rule wins: no live registration -> Unknown; an admin override; what it reports."""
    if record is None:
        return AgentState.UNKNOWN
    if override == AgentState.OUT_OF_SERVICE:
        return AgentState.OUT_OF_SERVICE
    return record.state


def shutdown_refusal(state: str, distribution_in_progress: bool) -> str | None:
    """Why an agent may not be shut down now, or None when it may."""
    if state not in ERROR_STATES:
        return f"the agent is {state}; Shutdown is only for an agent in an error state (Out Of Service or Starting)"
    if distribution_in_progress:
        return "deployments of its group are being distributed; wait until the distribution has finished"
    return None


@dataclass
class GroupsSnapshot:
    """Everything the front door and the API need, as last seen in etcd."""

    groups: dict[str, GroupDefinition] = field(default_factory=dict)
    deployments: dict[str, Deployment] = field(default_factory=dict)
    agents: dict[str, AgentRecord] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    generations: dict[str, int] = field(default_factory=dict)
    lost: dict[str, tuple[AgentRecord, float]] = field(default_factory=dict)  # lease gone: shown as Unknown
    commands: dict[str, dict[str, Any]] = field(default_factory=dict)

    def group(self, name: str) -> GroupDefinition | None:
        if name in self.groups:
            return self.groups[name]
        return default_group() if name == DEFAULT_GROUP else None

    def all_groups(self) -> dict[str, GroupDefinition]:
        return {DEFAULT_GROUP: default_group(), **self.groups}

    def agent_view(self, record: AgentRecord, live: bool = True) -> AgentView:
        override = self.overrides.get(record.agent_id)
        state = effective_state(record if live else None, override)
        return AgentView(
            record.agent_id,
            record.group,
            state,
            record.state if live else None,
            record.fault,
            record.host,
            record.pid,
            record.version,
            record.started_at,
            override,
            record.synced_generation,
            record.serving if live else (),
        )

    def agents_of(self, group: str, include_lost: bool = True) -> list[AgentView]:
        if self.group(group) is None:
            return []
        views = [self.agent_view(r) for r in self.agents.values() if r.group == group]
        if include_lost:
            views += [self.agent_view(r, live=False) for r, _ in self.lost.values() if r.group == group]
        return sorted(views, key=lambda view: view.agent_id)

    def up_agents(self, group: str) -> list[AgentRecord]:
        """The agents requests for this group may go to."""
        return [
            r
            for r in self.agents.values()
            if r.group == group
            and self.group(group) is not None
            and effective_state(r, self.overrides.get(r.agent_id)) == AgentState.UP
        ]

    def serving_agents(self, deployment: Deployment) -> list[AgentRecord]:
        """The agents that may sign for ``deployment``: Up ones of its group, and those Out Of Service
        only because another deployment is faulty (they keep serving what they applied)."""
        if self.group(deployment.group) is None:
            return []
        return [r for r in self.agents.values() if r.group == deployment.group and self._serves(r, deployment.name)]

    def store_down_agents(self, deployment: Deployment) -> list[AgentRecord]:
        """Agents of ``deployment``'s group that are Down only because they lost the session store."""
        if self.group(deployment.group) is None:
            return []
        return [
            r
            for r in self.agents.values()
            if r.group == deployment.group and r.state == AgentState.DOWN and r.fault == STORE_DOWN_FAULT
        ]

    def _serves(self, record: AgentRecord, name: str) -> bool:
        if self.overrides.get(record.agent_id) == AgentState.OUT_OF_SERVICE:
            return False  # an admin took it out entirely
        if record.state == AgentState.UP:
            return True
        return record.state == AgentState.OUT_OF_SERVICE and record.fault is not None and name in record.serving

    def unknown_agents(self) -> list[AgentView]:
        """Agents whose group is not defined: not used, listed under the Unknown tab."""
        live = [self.agent_view(r) for r in self.agents.values() if self.group(r.group) is None]
        lost = [self.agent_view(r, live=False) for r, _ in self.lost.values() if self.group(r.group) is None]
        return sorted(live + lost, key=lambda view: view.agent_id)

    def deployments_of(self, group: str) -> list[Deployment]:
        return sorted((d for d in self.deployments.values() if d.group == group), key=lambda d: d.name)

    def distribution_in_progress(self, group: str) -> bool:
        """Recreate or a deployment change is still being applied by some live agent of the group."""
        generation = self.generations.get(group, 0)
        return any(
            view.synced_generation < generation
            or view.state == AgentState.DOWN
            or (view.state == AgentState.OUT_OF_SERVICE and view.fault is None and view.override is None)
            for view in self.agents_of(group, include_lost=False)
        )
