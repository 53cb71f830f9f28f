// The recognition page: draw on the canvas (mouse, touch or pen) or upload a photo, send it to
// /api/recognize, then poll /api/result/<id> until the worker's answer is there and show it.
"use strict";

(() => {
  const config = document.getElementById("config").dataset;
  const POLL_INTERVAL_MS = 150;
  const WAIT_MS = Number(config.waitSeconds) * 1000;
  const MAX_BYTES = Number(config.maxBytes);
  // Pen width as a fraction of the canvas side: like a felt-tip pen on a small card, which is
  // roughly how thick MNIST strokes are relative to the digit.
  const PEN_FRACTION = 0.07;
  const INK = "#111";
  const PAPER = "#fff";

  const pad = document.getElementById("pad");
  const ctx = pad.getContext("2d");
  const undoButton = document.getElementById("undo");
  const clearButton = document.getElementById("clear");
  const sendButton = document.getElementById("send");
  const drop = document.getElementById("drop");
  const fileInput = document.getElementById("file");
  const statusLine = document.getElementById("status");
  const errorLine = document.getElementById("error");
  const answerBox = document.getElementById("answer-box");
  const sentPhoto = document.getElementById("sent-photo");

  const strokes = []; // each stroke: a list of [x, y] in canvas pixels
  let drawing = null; // {pointerId, points} while a pen is down
  let pollToken = 0; // a newer submission stops the polling of older ones

  // ---- drawing -------------------------------------------------------------------------------

  function penWidth() {
    return Math.max(4, Math.round(pad.width * PEN_FRACTION));
  }

  function paintStroke(points) {
    ctx.strokeStyle = INK;
    ctx.fillStyle = INK;
    ctx.lineWidth = penWidth();
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    if (points.length === 1) {
      ctx.beginPath();
      ctx.arc(points[0][0], points[0][1], penWidth() / 2, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    ctx.beginPath();
    ctx.moveTo(points[0][0], points[0][1]);
    for (const [x, y] of points.slice(1)) ctx.lineTo(x, y);
    ctx.stroke();
  }

  function repaint() {
    ctx.fillStyle = PAPER;
    ctx.fillRect(0, 0, pad.width, pad.height);
    strokes.forEach(paintStroke);
    const empty = strokes.length === 0;
    undoButton.disabled = empty;
    clearButton.disabled = empty;
    sendButton.disabled = empty;
  }

  function canvasPoint(event) {
    const box = pad.getBoundingClientRect();
    return [
      ((event.clientX - box.left) * pad.width) / box.width,
      ((event.clientY - box.top) * pad.height) / box.height,
    ];
  }

  pad.addEventListener("pointerdown", (event) => {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    drawing = { pointerId: event.pointerId, points: [canvasPoint(event)] };
    strokes.push(drawing.points);
    repaint();
  });

  pad.addEventListener("pointermove", (event) => {
    if (!drawing || event.pointerId !== drawing.pointerId) return;
    event.preventDefault();
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const each of events.length ? events : [event]) drawing.points.push(canvasPoint(each));
    repaint();
  });

  function endStroke(event) {
    if (drawing && event.pointerId === drawing.pointerId) drawing = null;
  }
  pad.addEventListener("pointerup", endStroke);
  pad.addEventListener("pointercancel", endStroke);

  undoButton.addEventListener("click", () => {
    strokes.pop();
    repaint();
  });
  clearButton.addEventListener("click", () => {
    strokes.length = 0;
    repaint();
  });
  sendButton.addEventListener("click", () => {
    pad.toBlob((blob) => submit(blob, "canvas", "drawing.png"), "image/png");
  });

  // ---- uploading -----------------------------------------------------------------------------

  fileInput.addEventListener("change", () => {
    const file = fileInput.files[0];
    fileInput.value = ""; // choosing the same file again still fires "change"
    if (file) submit(file, "upload", file.name);
  });
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const file = event.dataTransfer.files[0];
    if (file) submit(file, "upload", file.name);
  });

  async function submit(blob, source, filename) {
    const token = ++pollToken;
    showError("");
    if (!blob) return showError("Could not read the drawing. Please try again.");
    if (blob.size > MAX_BYTES) return showError(config.tooLargeText);
    showSentPhoto(source === "upload" ? blob : null);
    const form = new FormData();
    form.append("source", source);
    form.append("file", blob, filename);
    showStatus("Sending…");
    let response, body;
    try {
      response = await fetch(config.recognizeUrl, { method: "POST", body: form });
      body = await readJson(response);
    } catch (failure) {
      return showError("Could not reach the server. Check your connection and try again.");
    }
    if (!response.ok) return showError(body.error || `The server answered ${response.status}.`);
    showStatus("Reading…");
    poll(body.result_url, body.request_id, token, performance.now());
  }

  async function poll(url, requestId, token, startedAt) {
    if (token !== pollToken) return;
    const elapsed = performance.now() - startedAt;
    if (elapsed > WAIT_MS) {
      return showError(
        `No answer after ${Math.round(WAIT_MS / 1000)} s: no worker seems to be running. ` +
          "Please try again later."
      );
    }
    let response, body;
    try {
      response = await fetch(url, { cache: "no-store" });
      body = await readJson(response);
    } catch (failure) {
      response = null; // a network blip: keep polling until the deadline
    }
    if (token !== pollToken) return;
    if (response && response.status === 200) {
      showStatus(`Answered in ${Math.round(performance.now() - startedAt)} ms.`);
      return showResult(body, requestId);
    }
    if (response && response.status !== 202 && response.status !== 503) {
      return showError(body.error || `The server answered ${response.status}.`);
    }
    setTimeout(() => poll(url, requestId, token, startedAt), POLL_INTERVAL_MS);
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch (failure) {
      return {};
    }
  }

  // ---- showing the answer --------------------------------------------------------------------

  sentPhoto.addEventListener("error", () => (sentPhoto.hidden = true)); // not an image after all

  function showSentPhoto(blob) {
    if (sentPhoto.src) URL.revokeObjectURL(sentPhoto.src);
    sentPhoto.removeAttribute("src");
    sentPhoto.hidden = !blob;
    if (blob) sentPhoto.src = URL.createObjectURL(blob);
  }

  function showStatus(text) {
    statusLine.textContent = text;
  }

  function showError(text) {
    errorLine.textContent = text;
    errorLine.hidden = !text;
    if (text) {
      answerBox.hidden = true;
      showStatus("");
      revealResult();
    }
  }

  // Worded as the bot words it (reading/recognize.py): one decimal, and ">99.9%" where one
  // decimal would round up to a certainty the model does not have.
  function percent(value) {
    const pct = 100 * value;
    if (pct >= 99.95) return ">99.9%";
    return pct >= 10 ? `${pct.toFixed(1)}%` : `${Math.round(pct)}%`;
  }

  function showResult(result, requestId) {
    const read = Boolean(result.text);
    // The headline holds one figure, the whole number's; each digit's is on its own card. With
    // no digit it is the sentence saying so; a second line of the bot's answer is a note.
    const [firstLine, ...moreLines] = (result.answer || "").split("\n");
    document.getElementById("answer-text").textContent = read ? result.text : firstLine;
    document.getElementById("answer-sure").hidden = !read;
    document.getElementById("confidence").textContent = read ? percent(result.confidence) : "";
    document.getElementById("answer").classList.toggle("no-digit", !read);
    const note = document.getElementById("answer-note");
    note.textContent = read ? moreLines.join(" ") : "";
    note.hidden = !note.textContent;
    document.getElementById("model-version").textContent = result.model_version || "?";
    document.getElementById("digits").replaceChildren(...digitFigures(result));
    answerBox.hidden = false;
    errorLine.hidden = true;
    // feedback.js offers "✅ right" / "✏️ correct it" for this answer.
    document.dispatchEvent(new CustomEvent("digitbot:result", { detail: { requestId, result } }));
    revealResult();
  }

  // A card per 28×28 input, left to right, beside the bars of the digit read from it. An input
  // and a digit pair by their box in the image: the worker drops the inputs the model called
  // "not a digit" from the digits, and a digit made of several marks is one input, one box.
  function digitFigures(result) {
    const guesses = result.digits || [];
    const inputs = result.inputs || [];
    const boxes = result.input_boxes || [];
    const boxKey = (box) => (box || []).join(",");
    if (boxes.length !== inputs.length) {
      // An answer without boxes (a worker from before them): pair by position when it can.
      const paired = inputs.length === guesses.length;
      const figures = guesses.map((guess, i) => digitFigure(guess, paired ? inputs[i] : null));
      return paired ? figures : figures.concat(inputs.map((pixels) => digitFigure(null, pixels)));
    }
    const byBox = new Map(guesses.map((guess) => [boxKey(guess.box), guess]));
    const figures = inputs.map((pixels, i) => digitFigure(byBox.get(boxKey(boxes[i])), pixels));
    const shown = new Set(boxes.map(boxKey));
    const unpaired = guesses.filter((guess) => !shown.has(boxKey(guess.box)));
    return figures.concat(unpaired.map((guess) => digitFigure(guess, null)));
  }

  function revealResult() {
    // On a phone the answer is below the canvas: bring its headline (or the error) into view
    // with the least scrolling, so the canvas stays on screen for the next digit.
    const target = errorLine.hidden ? document.getElementById("answer") : errorLine;
    const box = target.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) {
      const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
      target.scrollIntoView({ behavior: still ? "instant" : "smooth", block: "nearest" });
    }
  }

  function digitFigure(guess, pixels) {
    const figure = document.createElement("figure");
    figure.className = guess ? "digit" : "digit not-read";
    const body = document.createElement("div");
    body.className = "digit-body";
    if (pixels) {
      const input = inputCanvas(pixels);
      input.title = "The 28×28 image the model saw";
      body.append(input);
    }
    if (guess) body.append(probabilityBars(guess));
    figure.append(body);
    const caption = document.createElement("figcaption");
    caption.textContent = guess
      ? `${guess.digit} · ${percent(guess.confidence)}`
      : "not read as a digit";
    figure.append(caption);
    return figure;
  }

  function inputCanvas(pixels) {
    const size = pixels.length;
    const canvas = document.createElement("canvas");
    canvas.className = "model-input";
    canvas.width = size;
    canvas.height = size;
    const image = canvas.getContext("2d").createImageData(size, size);
    pixels.forEach((row, y) =>
      row.forEach((value, x) => {
        const at = 4 * (y * size + x);
        image.data[at] = image.data[at + 1] = image.data[at + 2] = value;
        image.data[at + 3] = 255;
      }),
    );
    canvas.getContext("2d").putImageData(image, 0, 0);
    return canvas;
  }

  function probabilityBars(guess) {
    const bars = document.createElement("div");
    bars.className = "bars";
    bars.setAttribute("role", "img");
    bars.setAttribute("aria-label", `probabilities for each digit; best ${guess.digit}`);
    guess.probabilities.forEach((p, digit) => {
      const column = document.createElement("div");
      column.className = digit === guess.digit ? "bar best" : "bar";
      column.title = `${digit}: ${percent(p)}`;
      const fill = document.createElement("span");
      fill.className = "fill";
      fill.style.height = `${Math.max(1, Math.round(100 * p))}%`;
      const label = document.createElement("span");
      label.className = "label";
      label.textContent = String(digit);
      column.append(fill, label);
      bars.append(column);
    });
    return bars;
  }

  repaint();
})();
