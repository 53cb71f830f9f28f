// Under an answer on the page: "✅ right" and "✏️ correct it", as under the bot's answers.
// Correcting offers digit buttons for each position (a single digit is saved at once) or a typed
// number, which may have more or fewer digits than were read (two touching digits read as one).
// The server records it in the same store as the bot and says what it kept, which replaces the
// buttons. "Forget my corrections" deletes what this browser's id has sent.
"use strict";

(() => {
  const config = document.getElementById("config").dataset;
  const box = document.getElementById("feedback");
  const ask = document.getElementById("feedback-ask");
  const correction = document.getElementById("correction");
  const hint = document.getElementById("correction-hint");
  const positions = document.getElementById("positions");
  const saveButton = document.getElementById("save-correction");
  const typedForm = document.getElementById("typed-form");
  const typedInput = document.getElementById("typed");
  const note = document.getElementById("feedback-note");
  const forgetButton = document.getElementById("forget");
  const forgetNote = document.getElementById("forget-note");

  let current = null; // {requestId, text, candidate: [digit, ...]} for the answer shown

  document.addEventListener("digitbot:result", (event) => show(event.detail));

  function show({ requestId, result }) {
    current = result.text
      ? { requestId, text: result.text, candidate: result.text.split("") }
      : null;
    box.hidden = !current;
    ask.hidden = false;
    correction.hidden = true;
    showNote("");
    setBusy(false);
  }

  document.getElementById("feedback-right").addEventListener("click", () => send(current.text));
  document.getElementById("feedback-correct").addEventListener("click", () => {
    ask.hidden = true;
    correction.hidden = false;
    const single = current.text.length === 1;
    hint.textContent = single
      ? "Which digit is it? If you wrote more than one, type the whole number below."
      : "Fix each digit that is wrong, then save — or type the whole number below.";
    typedInput.value = "";
    renderPositions();
  });

  function renderPositions() {
    positions.replaceChildren(...current.candidate.map((_, index) => positionRow(index)));
    saveButton.hidden = current.text.length === 1;
    saveButton.textContent = `Save ${current.candidate.join("")}`;
  }

  function positionRow(index) {
    const row = document.createElement("div");
    row.className = "position";
    row.setAttribute("role", "group");
    const label = document.createElement("span");
    label.className = "position-label";
    label.textContent = current.text.length === 1 ? "Digit:" : `Digit ${index + 1}:`;
    row.setAttribute("aria-label", label.textContent);
    row.append(label);
    for (let digit = 0; digit < 10; digit += 1) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "digit-choice";
      button.textContent = String(digit);
      button.dataset.position = String(index);
      button.setAttribute("aria-pressed", String(current.candidate[index] === String(digit)));
      button.addEventListener("click", () => choose(index, String(digit)));
      row.append(button);
    }
    return row;
  }

  function choose(index, digit) {
    current.candidate[index] = digit;
    if (current.text.length === 1) return send(digit);
    renderPositions();
  }

  saveButton.addEventListener("click", () => send(current.candidate.join("")));

  typedForm.addEventListener("submit", (event) => {
    event.preventDefault();
    // Any number of digits: the server says when there are too many for one answer.
    const typed = typedInput.value.replace(/\s+/g, "");
    if (!/^[0-9]+$/.test(typed)) return showNote("Type the number you wrote, digits only.", true);
    send(typed);
  });

  async function send(label) {
    const { requestId } = current;
    setBusy(true);
    let response, body;
    try {
      response = await fetch(config.feedbackUrl.replace("REQUEST_ID", requestId), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ label }),
      });
      body = await readJson(response);
    } catch (failure) {
      setBusy(false);
      return showNote("Could not reach the server. Please try again.", true);
    }
    if (!current || current.requestId !== requestId) return; // a newer answer is shown
    setBusy(false);
    if (!response.ok) {
      // A wrong-length or refused label can be fixed; an expired or limited one cannot.
      const retry = response.status === 400;
      if (!retry) ask.hidden = correction.hidden = true;
      return showNote(body.error || body.message || `The server answered ${response.status}.`, true);
    }
    ask.hidden = true;
    correction.hidden = true;
    showNote(body.message);
  }

  function showNote(text, isError = false) {
    note.textContent = text;
    note.hidden = !text;
    note.className = isError ? "note error" : "note ok";
  }

  function setBusy(busy) {
    box.querySelectorAll("button").forEach((button) => (button.disabled = busy));
  }

  forgetButton.addEventListener("click", async () => {
    forgetButton.disabled = true;
    try {
      const response = await fetch(config.forgetUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      const body = await readJson(response);
      forgetNote.textContent = body.message || body.error || `The server answered ${response.status}.`;
    } catch (failure) {
      forgetNote.textContent = "Could not reach the server. Please try again.";
    }
    forgetButton.disabled = false;
  });

  async function readJson(response) {
    try {
      return await response.json();
    } catch (failure) {
      return {};
    }
  }
})();
