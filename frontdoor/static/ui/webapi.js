// Web API Groups overview: groups with their agents (a status icon per state) and deployments, the
// Unknown tab, "Add group" with permissions and the WEBAPI_GROUP_NAME reminder, Shutdown with a
// confirmation, refreshed live. The server checks every right; this page only reflects them.
// Plain script, no build step; text from the server never goes through innerHTML.
"use strict";

(function () {
  const text = JSON.parse(document.getElementById("ui-text").textContent || "{}");
  const ACTIONS = ["read", "create", "delete", "update", "recreate"];
  const ERROR_STATES = ["OUT_OF_SERVICE", "STARTING"];
  const ICONS = { UP: ["✔", "ok"], DOWN: ["⚠", "warn"], OUT_OF_SERVICE: ["⚠", "warn"], UNKNOWN: ["⚠", "warn"], STARTING: ["", "spin"] };
  const REFRESH_MS = 2000;
  let canDefine = false;
  let shutdownTarget = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function stateBadge(state) {
    const [glyph, kind] = ICONS[state] || ["?", "warn"];
    const label = text["webapi_state_" + state] || state;
    return el("span", { class: "state state-" + kind, dataset: { state: state } },
      el("span", { class: "state-icon " + kind, "aria-hidden": "true" }, glyph), " ", label);
  }

  function agentRow(agent) {
    const cells = [
      el("td", {}, stateBadge(agent.state)),
      el("td", {}, el("code", {}, agent.agent_id)),
      el("td", {}, agent.host + " · pid " + agent.pid),
      el("td", { class: "serving", title: text.webapi_serving || "Serving" },
        (agent.serving || []).length ? (text.webapi_serving || "Serving") + ": " + agent.serving.join(", ") : ""),
      el("td", { class: "fault" }, agent.fault || ""),
    ];
    const actions = el("td", {});
    if (canDefine && ERROR_STATES.includes(agent.state)) {
      const button = el("button", { type: "button", class: "danger small shutdown-button", dataset: { agent: agent.agent_id } },
        text.webapi_shutdown || "Shutdown");
      button.addEventListener("click", () => askShutdown(agent.agent_id));
      actions.append(button);
    }
    cells.push(actions);
    return el("tr", { class: "agent", dataset: { agent: agent.agent_id, state: agent.state } }, ...cells);
  }

  function deploymentRow(deployment) {
    return el("tr", { class: "deployment", dataset: { deployment: deployment.name } },
      el("td", {}, el("code", {}, deployment.name)),
      el("td", {}, el("code", {}, deployment.route_prefix)),
      el("td", { class: "endpoints" }, ...(deployment.endpoints || []).map((endpoint) =>
        el("span", { class: "endpoint", dataset: { healthy: String(endpoint.healthy) }, title: endpoint.healthy ? "in use" : "out of use" },
          (endpoint.healthy ? "✔ " : "✖ ") + endpoint.url + " "))),
      el("td", {}, deployment.signing),
      el("td", { class: "fault" }, deployment.faults.join("; ")));
  }

  function table(rows, empty) {
    if (!rows.length) return el("p", { class: "muted" }, empty);
    return el("table", { class: "list" }, el("tbody", {}, ...rows));
  }

  function groupCard(group) {
    const heading = el("div", { class: "row-between" },
      el("h2", {}, group.name),
      group.distribution_in_progress ? el("span", { class: "muted small" }, text.webapi_distributing) : null);
    return el("section", { class: "card group", dataset: { group: group.name } },
      heading,
      group.description ? el("p", { class: "muted" }, group.description) : null,
      el("h3", {}, text.webapi_agents || "Agents"),
      table(group.agents.map(agentRow), text.webapi_no_agents),
      el("h3", {}, text.webapi_deployments || "Deployments"),
      table(group.deployments.map(deploymentRow), text.webapi_no_deployments));
  }

  function render(body) {
    canDefine = !!body.caller.can_define_groups;
    document.getElementById("add-group").hidden = !canDefine;
    document.getElementById("tab-unknown").hidden = !canDefine;
    document.getElementById("groups-panel").replaceChildren(...body.groups.map(groupCard));
    const unknown = body.unknown || [];
    document.getElementById("unknown-count").textContent = String(unknown.length);
    const unknownCard = el("section", { class: "card" }, table(unknown.map(agentRow), text.webapi_no_unknown));
    document.getElementById("unknown-panel").replaceChildren(unknownCard);
    document.getElementById("webapi-status").textContent =
      (text.webapi_updated || "Updated") + " " + new Date().toLocaleTimeString();
  }

  async function refresh() {
    try {
      const response = await fetch("/api/webapi/groups", { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.status === 401) {
        const query = new URLSearchParams({ reason: "expired", next: location.pathname });
        location.assign("/ui/login?" + query.toString());
        return;
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      render(await response.json());
    } catch (error) {
      document.getElementById("webapi-status").textContent = text.webapi_load_failed || "Load failed";
    }
  }

  // ---- tabs ----
  function select(tab) {
    const groups = tab === "groups";
    document.getElementById("tab-groups").setAttribute("aria-selected", String(groups));
    document.getElementById("tab-unknown").setAttribute("aria-selected", String(!groups));
    document.getElementById("groups-panel").hidden = !groups;
    document.getElementById("unknown-panel").hidden = groups;
  }
  document.getElementById("tab-groups").addEventListener("click", () => select("groups"));
  document.getElementById("tab-unknown").addEventListener("click", () => select("unknown"));

  // ---- add group ----
  const groupDialog = document.getElementById("group-dialog");
  const grantRows = document.getElementById("grant-rows");

  function addGrantRow(subject, actions) {
    const row = el("tr", { class: "grant" },
      el("td", {}, el("input", { type: "text", class: "grant-subject", value: subject, "aria-label": "subject" })));
    for (const action of ACTIONS) {
      const box = el("input", { type: "checkbox", class: "grant-action", dataset: { action: action }, "aria-label": action });
      box.checked = actions.includes(action);
      row.append(el("td", {}, box));
    }
    grantRows.append(row);
  }

  function grants() {
    return Array.from(grantRows.querySelectorAll("tr.grant")).map((row) => ({
      subject: row.querySelector(".grant-subject").value.trim(),
      actions: Array.from(row.querySelectorAll(".grant-action")).filter((b) => b.checked).map((b) => b.dataset.action),
    })).filter((grant) => grant.subject && grant.actions.length);
  }

  document.getElementById("add-group").addEventListener("click", () => {
    document.getElementById("group-form").reset();
    grantRows.replaceChildren();
    addGrantRow("role:superadmin", ["read"]);
    document.getElementById("group-error").hidden = true;
    groupDialog.showModal();
  });
  document.getElementById("add-grant").addEventListener("click", () => addGrantRow("", ["read"]));
  document.getElementById("group-cancel").addEventListener("click", () => groupDialog.close());
  document.getElementById("group-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = document.getElementById("group-name").value.trim();
    const response = await fetch("/api/webapi/groups", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ name: name, grants: grants() }),
    });
    const body = await response.json().catch(() => ({}));
    if (response.status !== 201) {
      const error = document.getElementById("group-error");
      error.textContent = body.detail || body.title || "HTTP " + response.status;
      error.hidden = false;
      return;
    }
    groupDialog.close();
    document.getElementById("reminder-command").textContent =
      "WEBAPI_GROUP_NAME=" + name + " python -m signer_worker -f webui-host.toml --agent-id <id>";
    document.getElementById("reminder-dialog").showModal();
    refresh();
  });
  document.getElementById("reminder-ok").addEventListener("click", () => document.getElementById("reminder-dialog").close());

  // ---- shutdown ----
  const shutdownDialog = document.getElementById("shutdown-dialog");
  function askShutdown(agentId) {
    shutdownTarget = agentId;
    document.getElementById("shutdown-agent").textContent = agentId;
    document.getElementById("shutdown-error").hidden = true;
    shutdownDialog.showModal();
  }
  document.getElementById("shutdown-cancel").addEventListener("click", () => shutdownDialog.close());
  document.getElementById("shutdown-confirm").addEventListener("click", async () => {
    const response = await fetch("/api/webapi/agents/" + encodeURIComponent(shutdownTarget) + "/shutdown", {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" }, body: "{}",
    });
    if (response.status === 202) {
      shutdownDialog.close();
      refresh();
      return;
    }
    const body = await response.json().catch(() => ({}));
    const error = document.getElementById("shutdown-error");
    error.textContent = body.detail || body.title || "HTTP " + response.status;
    error.hidden = false;
  });

  refresh();
  setInterval(refresh, REFRESH_MS);
})();
