// The status page: "Retrain now" asks first (what a retraining costs), then queues one; and the
// page reloads every few seconds while nobody is using it.
"use strict";

(() => {
  const REFRESH_MS = 10000;
  const retrain = document.getElementById("retrain");
  const confirmBox = document.getElementById("retrain-confirm");
  const start = document.getElementById("retrain-start");
  const cancel = document.getElementById("retrain-cancel");
  const message = document.getElementById("retrain-message");
  let refresh = setTimeout(() => location.reload(), REFRESH_MS);

  function askFirst(open) {
    confirmBox.hidden = !open;
    retrain.setAttribute("aria-expanded", String(open));
    retrain.disabled = open;
    if (open) {
      clearTimeout(refresh); // a reload would take the question away
      start.focus();
    }
  }

  retrain.addEventListener("click", () => askFirst(true));
  cancel.addEventListener("click", () => {
    askFirst(false);
    retrain.focus();
  });

  start.addEventListener("click", async () => {
    start.disabled = true;
    message.textContent = "Asking for a retraining…";
    message.className = "muted";
    try {
      const response = await fetch(start.dataset.url, { method: "POST" });
      const body = await response.json().catch(() => ({}));
      message.textContent = body.message || body.error || `The server answered ${response.status}.`;
      message.className = response.ok ? "ok" : "error";
    } catch (failure) {
      message.textContent = "Could not reach the server.";
      message.className = "error";
    } finally {
      start.disabled = false;
      askFirst(false); // the outcome stays on screen until the operator reloads
    }
  });
})();
