// webui-host's own pages: theme and language switch, session countdown and extension, API console.
// Plain script, no build step. Server text never goes through innerHTML.
"use strict";

(function () {
  const root = document.documentElement;
  const text = JSON.parse(document.getElementById("ui-text").textContent || "{}");
  const ONE_YEAR = 365 * 24 * 3600;

  function setCookie(name, value) {
    const secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = `${name}=${encodeURIComponent(value)}; Path=/; Max-Age=${ONE_YEAR}; SameSite=Lax${secure}`;
  }

  function cookie(name) {
    const found = document.cookie.split("; ").find((item) => item.startsWith(name + "="));
    return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
  }

  function remember(key, cookieName, value) {
    try { localStorage.setItem(key, value); } catch (e) { /* storage may be disabled */ }
    setCookie(cookieName, value);
  }

  function stored(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; }
  }

  function loginUrl(reason, next) {
    const query = new URLSearchParams({ reason: reason, next: next || location.pathname + location.search });
    return "/ui/login?" + query.toString();
  }

  // ---- theme: light/dark, remembered in localStorage and a cookie the server renders from ----
  function effectiveTheme() {
    const theme = root.dataset.theme;
    if (theme === "light" || theme === "dark") return theme;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  const toggle = document.getElementById("theme-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      const next = effectiveTheme() === "dark" ? "light" : "dark";
      root.dataset.theme = next;
      remember("webui.theme", "webui_theme", next);
    });
  }

  // ---- language: the server renders the page, so a change reloads it ----
  const select = document.getElementById("language-select");
  if (select) {
    select.addEventListener("change", function () {
      remember("webui.lang", "webui_lang", select.value);
      location.reload();
    });
  }

  // A choice kept in localStorage outlives a cleared cookie: put it back for the next render.
  const savedTheme = stored("webui.theme");
  if (savedTheme && !cookie("webui_theme")) {
    setCookie("webui_theme", savedTheme);
    root.dataset.theme = savedTheme;
  }
  const savedLang = stored("webui.lang");
  if (savedLang && !cookie("webui_lang")) {
    setCookie("webui_lang", savedLang);
    if (savedLang !== root.lang) location.reload();
  }

  // ---- session countdown (server clock: remaining = expires - server's now, then local elapsed) ----
  const countdown = document.getElementById("countdown");
  let deadline = null;

  function format(seconds) {
    const days = Math.floor(seconds / 86400);
    const rest = seconds % 86400;
    const hh = String(Math.floor(rest / 3600)).padStart(2, "0");
    const mm = String(Math.floor((rest % 3600) / 60)).padStart(2, "0");
    const ss = String(rest % 60).padStart(2, "0");
    return (days ? days + (text.days_short || "d") + " " : "") + `${hh}:${mm}:${ss}`;
  }

  function tick() {
    const left = Math.max(0, Math.round((deadline - performance.now()) / 1000));
    countdown.textContent = left > 0 ? format(left) : text.session_expired;
    countdown.dataset.remaining = String(left);
    if (left <= 0) {
      location.assign(loginUrl("expired"));
      return;
    }
    setTimeout(tick, 1000 - (performance.now() % 1000));
  }

  if (countdown) {
    const remaining = parseFloat(countdown.dataset.expiresAt) - parseFloat(countdown.dataset.now);
    deadline = performance.now() + remaining * 1000;
    tick();
  }

  const extend = document.getElementById("extend-session");
  const extendMessage = document.getElementById("extend-message");
  if (extend) {
    extend.addEventListener("click", async function () {
      extend.disabled = true;
      try {
        const response = await fetch("/server/extend-login-session", {
          method: "POST", credentials: "same-origin", headers: { Accept: "application/json" },
        });
        if (response.status === 401) {
          location.assign(loginUrl("expired"));
          return;
        }
        const body = await response.json();
        if (!response.ok || !body.expires) throw new Error("HTTP " + response.status);
        const serverNow = Date.parse(response.headers.get("Date") || "") || Date.now();
        deadline = performance.now() + (Date.parse(body.expires) - serverNow);
        extendMessage.textContent = text.session_extended;
      } catch (e) {
        extendMessage.textContent = text.extend_failed;
      } finally {
        extend.disabled = false;
      }
    });
  }

  // ---- API console: GET /func/<path>, show status and body ----
  const form = document.getElementById("console-form");
  if (form) {
    const input = document.getElementById("console-path");
    const result = document.getElementById("console-result");
    const status = document.getElementById("console-status");
    const body = document.getElementById("console-body");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const path = input.value.trim().replace(/^\/+/, "").replace(/^func\//, "");
      const here = "/ui/console?" + new URLSearchParams({ path: path }).toString();
      history.replaceState(null, "", here);
      result.hidden = false;
      status.textContent = text.console_sending;
      body.textContent = "";
      let response;
      try {
        response = await fetch("/func/" + path, {
          credentials: "same-origin", headers: { Accept: "application/json" },
        });
      } catch (e) {
        status.textContent = text.console_network_error;
        return;
      }
      if (response.status === 401) {
        location.assign(loginUrl("expired", here));
        return;
      }
      const raw = await response.text();
      status.textContent = `${response.status} ${response.statusText}`.trim();
      status.dataset.status = String(response.status);
      try {
        body.textContent = JSON.stringify(JSON.parse(raw), null, 2);
      } catch (e) {
        body.textContent = raw;
      }
    });
  }
})();
