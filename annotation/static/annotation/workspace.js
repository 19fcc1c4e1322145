/* Quorum annotator workspace: mounts the labeling tool of the task type, keeps the lease alive,
 * submits the answer and shows every refusal as a readable message. Plain script, no build step.
 *
 * A tool registers itself as Quorum.tools[type] = mount; mount(root, params, ctx) returns
 * {getAnswer(), onKey(event) -> true when it handled the key, load(answer)?, undo()?, redo()?}.
 * getAnswer() throws an Error with a readable message when the answer is not complete yet.
 * ctx.initial is the answer to start from (a model's pre-labels, or an answer under review) and
 * ctx.readOnly draws an answer without taking input.
 */
(function () {
  "use strict";
  const Quorum = (window.Quorum = window.Quorum || {});
  const tools = (Quorum.tools = Quorum.tools || {});

  // Messages for the lease conflicts the services raise (annotation/assignment.py).
  const LEASE_CODES = {
    lease_expired: "Your lease on this task expired, so it may have gone to another annotator. Your answer was not saved.",
    stale_claim: "This task was claimed again since you opened it (your lease had run out). Your answer was not saved.",
    lease_lost: "This task is no longer yours to answer (it was submitted, skipped or expired). Your answer was not saved.",
    task_not_pending: "The client closed this task while you were working on it. Your answer was not saved.",
  };
  Quorum.LEASE_CODES = LEASE_CODES;

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
      body: JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { status: response.status, data: data, signedOut: response.redirected && /\/login\//.test(response.url) };
  }
  Quorum.postJSON = postJSON;

  function isTyping(target) {
    if (!target) return false;
    const tag = target.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable ||
      (tag === "INPUT" && !["radio", "checkbox", "button", "submit"].includes(target.type));
  }
  Quorum.isTyping = isTyping;

  function formatSeconds(seconds) {
    return seconds >= 60 ? Math.floor(seconds / 60) + " min " + (seconds % 60) + " s" : seconds + " s";
  }

  /** Read-only views of other answers (a reviewer's page): each `.qw-readonly-tool` names the
   * json_script holding its answer; the tool draws it and takes no input. A "load" button puts that
   * answer in the editable tool. */
  function mountReadOnly(data, tool) {
    const mount = tools[data.task_type];
    for (const node of document.querySelectorAll("[data-readonly-answer]")) {
      const source = document.getElementById(node.dataset.readonlyAnswer);
      if (!source || !mount) continue;
      const answer = JSON.parse(source.textContent);
      node.setAttribute("inert", "");
      mount(node, data.params, { initial: answer, readOnly: true, name: node.dataset.name || "answer", showError: function () {} });
      node.dataset.ready = "true";
    }
    for (const button of document.querySelectorAll("[data-load-answer]")) {
      button.addEventListener("click", function () {
        const source = document.getElementById(button.dataset.loadAnswer);
        if (!source || !tool.load) return;
        tool.load(JSON.parse(source.textContent), "Loaded " + button.dataset.name + " into the editor: correct it, then record the fix.");
        document.getElementById("tool-root").scrollIntoView({ block: "start" });
      });
    }
  }

  function start() {
    const dataEl = document.getElementById("assignment-data");
    if (!dataEl) return;
    const data = JSON.parse(dataEl.textContent);
    const root = document.getElementById("tool-root");
    const errorBox = document.getElementById("tool-error");
    const leaseBox = document.getElementById("lease-message");
    const leaseText = document.getElementById("lease-message-text");
    const leaseClock = document.getElementById("lease-clock");
    const warningBox = document.getElementById("lease-warning");
    const warningText = document.getElementById("lease-warning-text");
    const extendButton = document.getElementById("lease-extend");
    const submitButton = document.getElementById("submit-answer");
    const skipForm = document.getElementById("skip-form");
    let finished = false;
    let heartbeatTimer = null;
    let leasedUntil = data.leased_until ? new Date(data.leased_until) : null;
    // The server's clock decides the lease: measure how far this computer's clock is from it.
    const skew = data.server_now ? new Date(data.server_now).getTime() - Date.now() : 0;
    const serverNow = () => Date.now() + skew;
    // What the submit carries besides the answer: the lease's claim_version, or a question id.
    const submitFields = data.submit_fields || { claim_version: data.claim_version };

    function showError(message) {
      errorBox.textContent = message;
      errorBox.hidden = !message;
    }
    function showLeaseLost(code, message) {
      finished = true;
      clearInterval(heartbeatTimer);
      leaseText.textContent = LEASE_CODES[code] || message;
      leaseBox.hidden = false;
      if (warningBox) warningBox.hidden = true;
      submitButton.disabled = true;
      submitButton.textContent = "Submit (lease ended)";
      submitButton.setAttribute("aria-describedby", "lease-message-text");
      const next = leaseBox.querySelector("button");
      if (next) next.focus();
    }

    const mount = tools[data.task_type];
    if (!mount) {
      showError("There is no labeling tool for " + data.task_type + " tasks in the browser yet.");
      return;
    }
    const tool = mount(root, data.params, { showError: showError, initial: data.initial || null, initialSource: data.initial_source || "" });
    Quorum.active = tool;
    mountReadOnly(data, tool);
    root.dataset.ready = "true";

    // --- the lease: a countdown, a warning before it ends, and a clear end ---------------------
    // Annotators who are working keep their lease: the page sends a heartbeat every third of the
    // lease while there was input since the last one. Someone who walked away is warned
    // ``lease_warning_seconds`` before the end and keeps the task with one click; after the end,
    // Submit is disabled and the page says what to do next.
    let lastInput = Date.now(), lastBeat = Date.now() - 1;  // opening the task counts as work
    for (const kind of ["keydown", "pointerdown", "wheel", "input"]) {
      document.addEventListener(kind, function () { lastInput = Date.now(); }, { capture: true, passive: true });
    }
    let lastMove = 0;
    document.addEventListener("pointermove", function () {
      const now = Date.now();
      if (now - lastMove > 1000) { lastMove = now; lastInput = now; }
    }, { capture: true, passive: true });
    const warnAt = data.lease_warning_seconds || 0;

    function tickClock() {
      if (finished || !leasedUntil) return;
      const seconds = Math.max(0, Math.ceil((leasedUntil.getTime() - serverNow()) / 1000));
      if (leaseClock) leaseClock.textContent = seconds > 0 ? formatSeconds(seconds) + " left" : "expired";
      if (seconds <= 0) {
        showLeaseLost("lease_expired", LEASE_CODES.lease_expired);
        return;
      }
      if (warningBox && warnAt && seconds <= warnAt) {
        warningText.textContent = "Your lease on this task ends in " + formatSeconds(seconds) + ". Keep it to finish your work.";
        if (warningBox.hidden) {
          warningBox.hidden = false;
          root.dataset.leaseWarning = "shown";
        }
      } else if (warningBox && !warningBox.hidden) {
        warningBox.hidden = true;
        root.dataset.leaseWarning = "hidden";
      }
    }
    const clockTimer = leasedUntil ? setInterval(tickClock, 1000) : null;
    if (leasedUntil) tickClock();

    async function heartbeat() {
      if (finished || !data.urls.heartbeat) return false;
      try {
        const r = await postJSON(data.urls.heartbeat, { claim_version: data.claim_version });
        if (r.status === 200 && r.data) {
          leasedUntil = new Date(r.data.leased_until);
          lastBeat = Date.now();
          tickClock();
          return true;
        } else if (r.status === 409 && r.data && r.data.error) {
          showLeaseLost(r.data.error.code, r.data.error.message);
        }
      } catch (e) {
        /* offline for a moment: the next beat retries */
      }
      return false;
    }
    // Heartbeat at a third of the lease (two can be lost before it runs out), while working.
    const every = Math.max(2, Math.floor((data.lease_seconds || 900) / 3)) * 1000;
    if (data.urls.heartbeat) {
      heartbeatTimer = setInterval(function () { if (lastInput > lastBeat) heartbeat(); }, every);
    }
    if (extendButton) {
      extendButton.addEventListener("click", async function () {
        extendButton.disabled = true;
        const ok = await heartbeat();
        extendButton.disabled = false;
        if (ok) {
          warningBox.hidden = true;
          root.dataset.leaseWarning = "extended";
          const status = document.getElementById("lease-status");
          if (status) status.textContent = "Lease extended: " + formatSeconds(Math.round((leasedUntil.getTime() - serverNow()) / 1000)) + " left.";
          submitButton.focus();
        }
      });
    }

    async function submit() {
      if (finished) return;
      let answer;
      try {
        answer = tool.getAnswer();
      } catch (e) {
        showError(e.message);
        return;
      }
      showError("");
      submitButton.disabled = true;
      submitButton.setAttribute("aria-busy", "true");
      const extra = {};
      for (const [key, id] of Object.entries(data.submit_inputs || {})) {
        const input = document.getElementById(id);
        extra[key] = input ? input.value : "";
      }
      try {
        const r = await postJSON(data.urls.submit, Object.assign({}, submitFields, extra, { answer: answer }));
        if (r.status === 200 && r.data && r.data.next_url) {
          finished = true;
          clearInterval(clockTimer);
          window.location.assign(r.data.next_url);
          return;
        }
        if (r.signedOut || (r.status === 403 && !(r.data && r.data.error))) {
          // Signed out (the session ended or another tab signed out) or the security token is stale.
          showError("Not saved: you are signed out. Sign in again in another tab (your work here is kept), then press Submit again.");
          return;
        }
        const error = (r.data && r.data.error) || { code: "error", message: r.status >= 500
          ? "The server had a problem (HTTP " + r.status + "); your work is kept here, press Submit again in a moment."
          : "The server refused the request (HTTP " + r.status + ")." };
        if (r.status === 409 && LEASE_CODES[error.code]) {
          showLeaseLost(error.code, error.message);
        } else {
          showError("Not saved: " + error.message);  // the work stays on the tool
          errorBox.scrollIntoView({ block: "nearest" });
        }
      } catch (e) {
        showError("Not saved: the server could not be reached. Check your connection and press Submit again.");
      } finally {
        submitButton.removeAttribute("aria-busy");
        if (!finished) submitButton.disabled = false;
      }
    }
    submitButton.addEventListener("click", submit);

    document.addEventListener("keydown", function (event) {
      if (finished) return;
      // Undo / redo belong to the tool (Ctrl+Z, Ctrl+Shift+Z, Ctrl+Y), never while typing in a field.
      if ((event.ctrlKey || event.metaKey) && !isTyping(event.target) && tool.undo && /^[zy]$/i.test(event.key)) {
        event.preventDefault();
        if (event.key.toLowerCase() === "y" || event.shiftKey) tool.redo(); else tool.undo();
        return;
      }
      if (event.ctrlKey && event.key !== "Enter" || event.metaKey || event.altKey) return;
      if (tool.onKey && tool.onKey(event)) { event.preventDefault(); return; }
      const typing = isTyping(event.target);
      if (event.key === "Enter" && (!typing || event.ctrlKey) && !event.repeat) {
        if (event.target && (event.target.tagName === "BUTTON" || event.target.tagName === "A")) return;
        event.preventDefault();
        submit();
      } else if ((event.key === "s" || event.key === "S") && !typing && !event.ctrlKey && skipForm) {
        event.preventDefault();
        skipForm.requestSubmit();
      }
    });
  }

  // Tool scripts come before this one in the page; all are deferred, so by DOMContentLoaded
  // every tool has registered.
  if (document.readyState === "complete") start();
  else document.addEventListener("DOMContentLoaded", start);
})();
