/* Quorum annotator workspace: mounts the labeling tool of the task type, keeps the lease alive,
 * submits the answer and shows every refusal as a readable message. Plain script, no build step.
 *
 * A tool registers itself as Quorum.tools[type] = mount; mount(root, params, ctx) returns
 * {getAnswer(), onKey(event) -> true when it handled the key}. getAnswer() throws an Error with a
 * readable message when the answer is not complete yet.
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

  function start() {
    const dataEl = document.getElementById("assignment-data");
    if (!dataEl) return;
    const data = JSON.parse(dataEl.textContent);
    const root = document.getElementById("tool-root");
    const errorBox = document.getElementById("tool-error");
    const leaseBox = document.getElementById("lease-message");
    const leaseText = document.getElementById("lease-message-text");
    const leaseClock = document.getElementById("lease-clock");
    const submitButton = document.getElementById("submit-answer");
    const skipForm = document.getElementById("skip-form");
    let finished = false;
    let leasedUntil = data.leased_until ? new Date(data.leased_until) : null;
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
      submitButton.disabled = true;
      const next = leaseBox.querySelector("button");
      if (next) next.focus();
    }

    const mount = tools[data.task_type];
    if (!mount) {
      showError("There is no labeling tool for " + data.task_type + " tasks in the browser yet.");
      return;
    }
    const tool = mount(root, data.params, { showError: showError });
    Quorum.active = tool;
    root.dataset.ready = "true";

    function tickClock() {
      const seconds = Math.max(0, Math.round((leasedUntil - Date.now()) / 1000));
      leaseClock.textContent = seconds > 0 ? Math.floor(seconds / 60) + " min " + (seconds % 60) + " s" : "expired";
    }
    if (leasedUntil && leaseClock) {
      tickClock();
      setInterval(tickClock, 1000);
    }

    // Heartbeat at a third of the lease, so two can be lost before the lease runs out.
    const every = Math.max(2, Math.floor(data.lease_seconds / 3)) * 1000;
    async function heartbeat() {
      if (finished || !data.urls.heartbeat) return;
      try {
        const r = await postJSON(data.urls.heartbeat, { claim_version: data.claim_version });
        if (r.status === 200 && r.data) {
          leasedUntil = new Date(r.data.leased_until);
        } else if (r.status === 409 && r.data && r.data.error) {
          showLeaseLost(r.data.error.code, r.data.error.message);
        }
      } catch (e) {
        /* offline for a moment: the next beat retries */
      }
    }
    const heartbeatTimer = data.urls.heartbeat ? setInterval(heartbeat, every) : null;

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
      try {
        const r = await postJSON(data.urls.submit, Object.assign({}, submitFields, { answer: answer }));
        if (r.status === 200 && r.data && r.data.next_url) {
          finished = true;
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
      if (finished || event.ctrlKey && event.key !== "Enter" || event.metaKey || event.altKey) return;
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
