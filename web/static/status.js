// The status page: the "Retrain now" button, and a refresh every few seconds while idle.
"use strict";

(() => {
  const REFRESH_MS = 10000;
  const button = document.getElementById("retrain");
  const message = document.getElementById("retrain-message");
  let refresh = setTimeout(() => location.reload(), REFRESH_MS);

  button.addEventListener("click", async () => {
    clearTimeout(refresh); // keep the outcome on screen until the operator reloads
    button.disabled = true;
    message.textContent = "Asking for a retraining…";
    try {
      const response = await fetch(button.dataset.url, { method: "POST" });
      const body = await response.json().catch(() => ({}));
      message.textContent = body.message || body.error || `The server answered ${response.status}.`;
      message.className = response.ok ? "ok" : "error";
    } catch (failure) {
      message.textContent = "Could not reach the server.";
      message.className = "error";
    } finally {
      button.disabled = false;
    }
  });
})();
