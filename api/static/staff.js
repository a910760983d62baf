// Staff moderation pages: keyboard shortcuts and actions through the staff JSON API with fetch().
// Decisions are pinned to the version and content hash shown on the page, so a stale page gets the
// API's 409 instead of deciding on content the reviewer did not see. No inline scripts (CSP).
"use strict";

(() => {
  const api = document.body.dataset.api;
  const status = document.getElementById("status");
  const dialog = document.getElementById("reason-dialog");
  const review = document.getElementById("review");
  const stateLabels = JSON.parse(document.body.dataset.states || "{}");
  // The page's words for what happened (api/staff_script_i18n.py); codes where a page gives none.
  const words = JSON.parse(document.body.dataset.messages || "{}");

  function word(key, values) {
    const template = words[key] || Object.keys(values).map((name) => `{${name}}`).join(" ");
    return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
  }

  function actionLabel(action) {
    return (words.actions && words.actions[action]) || action;
  }

  // A failed request in the page's language, the server's own detail kept in brackets.
  function failure(error) {
    const statuses = words.statuses || {};
    return { what: statuses[error.status] || words.request_failed || "error", detail: error.message };
  }

  const rows = () => Array.from(document.querySelectorAll("tr.queue-row"));
  const marks = () => Array.from(document.querySelectorAll("mark.hit"));

  function say(message, isError) {
    status.textContent = message;
    status.classList.toggle("error", Boolean(isError));
  }

  // The item keys act on: the review page's item, or the selected queue row.
  function currentItem() {
    return review || document.querySelector("tr.queue-row.current");
  }

  function select(row) {
    for (const other of rows()) other.classList.remove("current");
    if (!row) return;
    row.classList.add("current");
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step, list, cls) {
    const items = list();
    if (!items.length) return null;
    const at = items.findIndex((el) => el.classList.contains(cls));
    const next = items[Math.min(items.length - 1, Math.max(0, at < 0 ? 0 : at + step))];
    for (const el of items) el.classList.remove(cls);
    next.classList.add(cls);
    return next;
  }

  // Signed in with the session cookie: every write repeats the session's CSRF token (api/csrf.py).
  const csrf = document.body.dataset.csrf || "";

  async function call(path, body) {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (csrf) headers["X-CSRF-Token"] = csrf;
    const response = await fetch(api + path, {
      method: "POST",
      headers,
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
    });
    if (response.status === 401 && csrf) {
      // The session ended (idle, sign-out elsewhere, deactivated): sign in again, then come back.
      window.location.assign(document.body.dataset.login + "?next=" + encodeURIComponent(location.pathname + location.search));
    }
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = { detail: response.statusText };
    }
    if (!response.ok) {
      const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
      const error = new Error(response.status + " " + detail);
      error.status = String(response.status);
      throw error;
    }
    return data;
  }

  // Resolves to {reason_code, reason} or null when the reviewer cancels.
  function askReason(action) {
    return new Promise((resolve) => {
      const code = dialog.querySelector("#reason-code");
      const text = dialog.querySelector("#reason-text");
      let first = null;
      for (const option of code.options) {
        const fits = option.dataset.actions.split(" ").includes(action);
        option.hidden = !fits;
        option.disabled = !fits;
        if (fits && !first) first = option;
      }
      if (first) code.value = first.value;
      text.value = "";
      dialog.returnValue = "";
      dialog.addEventListener(
        "close",
        () => {
          const ok = dialog.returnValue === "ok" && code.value && !code.selectedOptions[0].disabled;
          resolve(ok ? { reason_code: code.value, reason: text.value.trim() || null } : null);
        },
        { once: true },
      );
      dialog.showModal();
      code.focus();
    });
  }

  function showState(el, state) {
    el.dataset.state = state;
    const cell = el.querySelector(".state");
    if (cell) cell.textContent = stateLabels[state] || state;
    if (state !== "pending") el.classList.add("decided");
  }

  const NEEDS_REASON = new Set(["reject", "needs_changes", "withdraw"]);

  async function act(el, action) {
    if (!el) {
      say(word("pick_row", {}), true);
      return;
    }
    const id = el.dataset.item;
    try {
      if (action === "claim" || action === "release") {
        const result = await call(`/items/${id}/${action}`);
        el.dataset.version = result.version;
        const cell = el.querySelector(".claim");
        if (cell) cell.textContent = action === "claim" && result.claim ? result.claim.by : "";
        say(word(action === "claim" ? "claimed" : "released", { id }));
        return;
      }
      let body = { version: Number(el.dataset.version), content_hash: el.dataset.hash || null };
      if (NEEDS_REASON.has(action)) {
        const reason = await askReason(action);
        if (!reason) return;
        body = { ...body, ...reason };
      }
      const result = await call(`/items/${id}/${action}`, body);
      el.dataset.version = result.version;
      showState(el, result.state);
      const what = result.step === "first" ? words.first_approval : stateLabels[result.state];
      say(word("decided", { id, what: what || result.state }));
      if (!review) select(move(1, rows, "current"));
    } catch (error) {
      say(word("failed", { id, ...failure(error) }), true);
    }
  }

  function picked() {
    return rows().filter((row) => row.querySelector(".pick").checked);
  }

  function updateCount() {
    const counter = document.getElementById("bulk-count");
    if (counter) counter.textContent = counter.dataset.template.replace("{count}", picked().length);
  }

  async function bulk(action) {
    const chosen = picked();
    if (!chosen.length) return;
    let body = {
      items: chosen.map((row) => ({
        id: Number(row.dataset.item),
        version: Number(row.dataset.version),
        content_hash: row.dataset.hash || null,
      })),
    };
    if (action === "reject") {
      const reason = await askReason("reject");
      if (!reason) return;
      body = { ...body, ...reason };
    }
    try {
      const result = await call(`/bulk/${action}`, body);
      for (const outcome of result.results) {
        const row = document.getElementById(`item-${outcome.id}`);
        if (!row) continue;
        if (outcome.ok) {
          row.dataset.version = outcome.version;
          showState(row, outcome.state);
          row.querySelector(".pick").checked = false;
        } else {
          // Why, in the page's words; the service's message (e.g. which screening hits hold the
          // item back) is the tooltip.
          const cell = row.querySelector(".state");
          const refusals = words.refusals || {};
          cell.textContent = refusals[outcome.error] || outcome.message || outcome.error;
          cell.title = outcome.message || outcome.error || "";
          cell.dataset.refusal = outcome.error || "";
        }
      }
      updateCount();
      const total = result.done + result.refused;
      say(word("bulk", { action: actionLabel(action), done: result.done, total }), result.refused > 0);
    } catch (error) {
      say(word("bulk_failed", { action: actionLabel(action), ...failure(error) }), true);
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action], button[data-bulk]");
    if (button && button.dataset.bulk) {
      bulk(button.dataset.bulk);
    } else if (button) {
      const el = button.closest("[data-item]");
      if (el && el.matches("tr.queue-row")) select(el);
      act(el, button.dataset.action);
    }
  });

  document.addEventListener("change", (event) => {
    if (event.target.id === "pick-all") {
      // Decided rows stay on the page for reference but are not picked again.
      for (const row of rows()) {
        row.querySelector(".pick").checked = event.target.checked && row.dataset.state === "pending";
      }
    }
    updateCount();
  });

  const KEY_ACTIONS = { a: "approve", r: "reject", n: "needs_changes", c: "claim" };

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (dialog && dialog.open) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    const key = event.key;
    if (key === "j" || key === "k") {
      const step = key === "j" ? 1 : -1;
      if (review) {
        const mark = move(step, marks, "current");
        if (mark) {
          mark.focus({ preventScroll: true });
          mark.scrollIntoView({ block: "center" });
        }
      } else {
        select(move(step, rows, "current"));
      }
    } else if (KEY_ACTIONS[key]) {
      act(currentItem(), KEY_ACTIONS[key]);
    } else if (key === "x" && !review) {
      const row = currentItem();
      if (row) {
        const box = row.querySelector(".pick");
        box.checked = !box.checked;
        updateCount();
      }
    } else if (key === "o" && !review) {
      const row = currentItem();
      if (row) window.location.assign(row.dataset.href);
    } else {
      return;
    }
    event.preventDefault();
  });
})();
