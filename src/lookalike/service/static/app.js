// lookalike page: choose, drop or snap a photo → POST /api/search → numbered boxes + look-alike grid.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const app = $("app");
  const maxBytes = Number(app.dataset.maxBytes);
  const drop = $("drop"), fileInput = $("file"), kSelect = $("k");
  const statusEl = $("status"), errorEl = $("error");
  const result = $("result"), canvas = $("photo"), facesEl = $("faces");
  const matches = $("matches"), grid = $("grid"), matchesTitle = $("matches-title");
  const webcam = $("webcam"), video = $("video");
  const BOX = "#ffd400", SELECTED = "#ff3b6b";

  let current = null;   // {answer, image}
  let selected = 0;     // index into answer.faces
  let lastFile = null;
  let stream = null;

  function showError(message) {
    errorEl.textContent = message;
    errorEl.hidden = false;
    statusEl.textContent = "";
  }
  function clearError() { errorEl.hidden = true; errorEl.textContent = ""; }

  function pretty(name) { return name ? name.replace(/_/g, " ") : "(unnamed)"; }

  async function errorMessage(resp) {
    try {
      const body = await resp.json();
      if (body && body.error && body.error.message) {
        const msg = body.error.message;
        if (body.error.type === "NoFaceError") return "No face found in this photo. Try one where a face is clearly visible.";
        if (body.error.type === "ImageTooLargeError") return "This file is too large: " + msg + ".";
        if (body.error.type === "UnreadableImageError") return "This file could not be read as a photo: " + msg + ".";
        return msg;
      }
    } catch (e) { /* not JSON */ }
    return "The server answered " + resp.status + " " + resp.statusText + ".";
  }

  function loadImage(file) {
    return new Promise((resolve) => {
      const url = URL.createObjectURL(file);
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => { URL.revokeObjectURL(url); resolve(null); };
      img.src = url;
    });
  }

  async function analyse(file) {
    clearError();
    lastFile = file;
    matches.hidden = true;
    result.hidden = true;
    if (!file) return;
    if (file.size > maxBytes) {
      showError("This file is too large: it is " + (file.size / 1048576).toFixed(1) + " MB; the limit is " +
                (maxBytes / 1048576).toFixed(0) + " MB.");
      return;
    }
    statusEl.textContent = "Looking for faces…";
    const form = new FormData();
    form.append("file", file, file.name || "photo.jpg");
    form.append("k", kSelect.value);
    form.append("face", "all");
    let resp;
    try {
      resp = await fetch("/api/search", { method: "POST", body: form });
    } catch (e) {
      showError("The server cannot be reached. Is lookalike still running?");
      return;
    }
    const image = await loadImage(file);
    if (!resp.ok) {
      const msg = await errorMessage(resp);
      if (image && resp.status === 422) drawPhoto({ width: image.naturalWidth, height: image.naturalHeight, faces: [] }, image);
      showError(msg);
      return;
    }
    const answer = await resp.json();
    current = { answer, image };
    statusEl.textContent = answer.face_count === 1 ? "1 face found." :
      answer.face_count + " faces found" + (answer.faces.length < answer.face_count ? " (showing the " + answer.faces.length + " largest)." : ".");
    selectFace(0);
  }

  function drawPhoto(answer, image) {
    const wrapWidth = $("canvas-wrap").clientWidth || answer.width;
    const scale = Math.min(1, wrapWidth / answer.width);
    const ratio = window.devicePixelRatio || 1;
    const cw = Math.round(answer.width * scale), ch = Math.round(answer.height * scale);
    canvas.width = Math.round(cw * ratio);
    canvas.height = Math.round(ch * ratio);
    canvas.style.width = cw + "px";
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = "#e5e8ef";
    ctx.fillRect(0, 0, cw, ch);
    if (image) ctx.drawImage(image, 0, 0, cw, ch);
    const drawn = [];
    answer.faces.forEach((face, i) => {
      const b = face.box;
      const x = b.left * scale, y = b.top * scale, w = (b.right - b.left) * scale, h = (b.bottom - b.top) * scale;
      const colour = i === selected ? SELECTED : BOX;
      ctx.lineWidth = Math.max(2, Math.round(Math.min(cw, ch) / 150));
      ctx.strokeStyle = colour;
      ctx.strokeRect(x, y, w, h);
      const label = String(face.number);
      const size = Math.max(14, Math.round(Math.min(w, 40) * 0.6));
      ctx.font = "bold " + size + "px system-ui, sans-serif";
      const tw = ctx.measureText(label).width + 8;
      ctx.fillStyle = colour;
      ctx.fillRect(x, Math.max(0, y - size - 6), tw, size + 6);
      ctx.fillStyle = "#000";
      ctx.fillText(label, x + 4, Math.max(size, y - 5));
      drawn.push({ number: face.number, x, y, w, h, colour });
    });
    canvas.dataset.boxes = JSON.stringify(drawn);
    canvas.dataset.scale = String(scale);
    result.hidden = false;
  }

  function renderFaceButtons(answer) {
    facesEl.replaceChildren();
    answer.faces.forEach((face, i) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = "Face " + face.number;
      b.setAttribute("aria-pressed", String(i === selected));
      b.addEventListener("click", () => selectFace(i));
      facesEl.appendChild(b);
    });
  }

  function renderGrid(face) {
    grid.replaceChildren();
    matchesTitle.textContent = "Face " + face.number + " looks like";
    for (const n of face.neighbours) {
      const li = document.createElement("li");
      li.className = "card";
      li.dataset.person = n.person || "";
      li.dataset.rank = String(n.rank);
      const a = document.createElement("a");
      a.href = n.image_url;
      a.target = "_blank";
      a.rel = "noopener";
      a.title = "open the whole photo (" + n.image + ")";
      const img = document.createElement("img");
      img.src = n.thumbnail_url;
      img.alt = pretty(n.person);
      img.loading = "lazy";
      img.width = 150; img.height = 150;
      const name = document.createElement("div");
      name.className = "name";
      name.textContent = pretty(n.person);
      const meta = document.createElement("div");
      meta.className = "meta";
      const rank = document.createElement("span");
      rank.textContent = "#" + n.rank;
      const pct = document.createElement("span");
      pct.className = "pct";
      pct.textContent = n.similarity.toFixed(0) + " %";
      pct.title = "distance " + n.distance.toFixed(3);
      meta.append(rank, pct);
      a.append(img, name, meta);
      li.appendChild(a);
      grid.appendChild(li);
    }
    matches.hidden = face.neighbours.length === 0;
  }

  function selectFace(i) {
    if (!current) return;
    selected = i;
    drawPhoto(current.answer, current.image);
    renderFaceButtons(current.answer);
    if (current.answer.faces[i]) renderGrid(current.answer.faces[i]);
  }

  canvas.addEventListener("click", (ev) => {
    if (!current) return;
    const rect = canvas.getBoundingClientRect();
    const px = (ev.clientX - rect.left) * (canvas.clientWidth ? parseFloat(canvas.style.width) / canvas.clientWidth : 1);
    const py = (ev.clientY - rect.top) * (canvas.clientWidth ? parseFloat(canvas.style.width) / canvas.clientWidth : 1);
    const boxes = JSON.parse(canvas.dataset.boxes || "[]");
    // smallest box containing the click wins (a face inside another's box)
    let best = -1, area = Infinity;
    boxes.forEach((b, i) => {
      if (px >= b.x && px <= b.x + b.w && py >= b.y && py <= b.y + b.h && b.w * b.h < area) { best = i; area = b.w * b.h; }
    });
    if (best >= 0) selectFace(best);
  });

  // file picker and drag-and-drop
  fileInput.addEventListener("change", () => analyse(fileInput.files[0]));
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (ev) => {
    ev.preventDefault(); drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (ev) => {
    ev.preventDefault(); drop.classList.remove("over");
  }));
  drop.addEventListener("drop", (ev) => {
    const f = ev.dataTransfer && ev.dataTransfer.files && ev.dataTransfer.files[0];
    if (f) analyse(f);
  });
  drop.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); fileInput.click(); }
  });
  kSelect.addEventListener("change", () => { if (lastFile) analyse(lastFile); });
  window.addEventListener("resize", () => { if (current) drawPhoto(current.answer, current.image); });

  // webcam snapshot
  function stopCamera() {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    video.srcObject = null;
    webcam.hidden = true;
  }
  $("camera").addEventListener("click", async () => {
    clearError();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showError("No camera is available here (browsers allow the camera only on https:// or localhost pages).");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: false });
    } catch (e) {
      showError("The camera could not be started: " + (e && e.message ? e.message : e) + ".");
      return;
    }
    video.srcObject = stream;
    webcam.hidden = false;
  });
  $("cancel-camera").addEventListener("click", stopCamera);
  $("snap").addEventListener("click", () => {
    if (!stream || !video.videoWidth) return;
    const c = document.createElement("canvas");
    c.width = video.videoWidth;
    c.height = video.videoHeight;
    c.getContext("2d").drawImage(video, 0, 0);
    stopCamera();
    c.toBlob((blob) => {
      if (blob) analyse(new File([blob], "webcam.jpg", { type: "image/jpeg" }));
    }, "image/jpeg", 0.92);
  });
})();
