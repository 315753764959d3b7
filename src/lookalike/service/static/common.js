// Shared parts of the lookalike pages: request ordering, error messages, photo previews, face boxes,
// similarity in plain words, busy state and downloads. Plain ES module, no framework.

export const $ = (id) => document.getElementById(id);
export const BOX = "#ffd400", SELECTED = "#ff3b6b";

export function pretty(name) { return name ? name.replace(/_/g, " ") : "(unnamed)"; }

/** A percentage rounded down: 49.69 reads "49 %", never the threshold's "50 %" it is below. */
export function pct(similarity) { return Math.floor(similarity) + " %"; }

function mib(bytes) {
  const m = bytes / 1048576;
  return (Number.isInteger(m) ? String(m) : m.toFixed(1)) + " MB";
}

/** The message for a file over the byte cap (byte-exact, so one byte over never reads "25 MB of 25 MB"). */
export function sizeProblem(file, maxBytes) {
  if (!file || file.size <= maxBytes) return null;
  return "This file is too large: it is " + file.size.toLocaleString("en") + " bytes; the limit is " +
    maxBytes.toLocaleString("en") + " bytes (" + mib(maxBytes) + ").";
}

/**
 * Only the newest request's answer is shown: start() aborts the one before (AbortController) and
 * numbers the new one; ticket.current() is false once a newer request has started.
 */
export class Latest {
  constructor() { this.seq = 0; this.ctrl = null; }
  start() {
    if (this.ctrl) this.ctrl.abort();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    const seq = ++this.seq;
    return { signal: ctrl.signal, current: () => seq === this.seq && !ctrl.signal.aborted };
  }
  cancel() { if (this.ctrl) this.ctrl.abort(); this.ctrl = null; this.seq++; }
}

export async function errorMessage(resp) {
  try {
    const body = await resp.json();
    if (body && body.error && body.error.message) {
      const msg = body.error.message, type = body.error.type;
      if (type === "NoFaceError") return "No face found in this photo. Try one where a face is clearly visible.";
      if (type === "ImageTooLargeError") return "This file is too large: " + msg + ".";
      if (type === "UnreadableImageError") return "This file could not be read as a photo: " + msg + ".";
      if (resp.status === 401 || resp.status === 403) return msg + " Enter the API token the server was started with.";
      return msg;
    }
  } catch (e) { /* not JSON */ }
  return "The server answered " + resp.status + " " + resp.statusText + ".";
}

/**
 * fetch() for a ticket of a Latest: null when the answer is no longer wanted (aborted or superseded),
 * else {data, resp} or {error, status}.
 */
export async function request(url, options, ticket) {
  let resp;
  try {
    resp = await fetch(url, { ...options, signal: ticket.signal });
  } catch (e) {
    if (!ticket.current()) return null;
    return { error: "The server cannot be reached. Is lookalike still running?", status: 0 };
  }
  if (!ticket.current()) return null;
  if (!resp.ok) {
    const error = await errorMessage(resp);
    return ticket.current() ? { error, status: resp.status } : null;
  }
  let data;
  try { data = resp.status === 204 ? null : await resp.json(); } catch (e) { return null; }
  return ticket.current() ? { data, resp } : null;
}

const urls = new Set();
function imageFrom(blob) {
  return new Promise((resolve) => {
    const url = URL.createObjectURL(blob);
    urls.add(url);
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => { URL.revokeObjectURL(url); urls.delete(url); resolve(null); };
    img.src = url;
  });
}

/** Forget the object URLs of earlier photos (their images stay drawable while referenced). */
export function releasePhotos() { urls.forEach((u) => URL.revokeObjectURL(u)); urls.clear(); }

/**
 * The photo as something a canvas can draw: the browser's own decoding, or — for formats it cannot
 * show (TIFF, PGM, …) — a JPEG preview the server decodes with the same reader as the search.
 * {image, width, height} in the photo's own pixels (those of the face boxes), or null.
 */
export async function loadPhoto(file, signal) {
  const img = await imageFrom(file);
  if (img) return { image: img, width: img.naturalWidth, height: img.naturalHeight, preview: false };
  const form = new FormData();
  form.append("file", file, file.name || "photo");
  try {
    const resp = await fetch("/api/preview", { method: "POST", body: form, signal });
    if (!resp.ok) return null;
    const im = await imageFrom(await resp.blob());
    if (!im) return null;
    return {
      image: im,
      width: Number(resp.headers.get("X-Image-Width")) || im.naturalWidth,
      height: Number(resp.headers.get("X-Image-Height")) || im.naturalHeight,
      preview: true,
    };
  } catch (e) { return null; }
}

/**
 * Draw the photo scaled to its wrapper's width with a numbered box per face (face.box in photo pixels).
 * faces: [{number, box}]; selected: the number of the highlighted face (or null).
 * The drawn boxes go to canvas.dataset.boxes (CSS pixels) for clicks and tests.
 */
export function drawPhoto(canvas, photo, faces, selected, wrap) {
  const width = photo.width, height = photo.height;
  const wrapWidth = (wrap || canvas.parentElement).clientWidth || width;
  const scale = Math.min(1, wrapWidth / width);
  const ratio = window.devicePixelRatio || 1;
  const cw = Math.round(width * scale), ch = Math.round(height * scale);
  canvas.width = Math.round(cw * ratio);
  canvas.height = Math.round(ch * ratio);
  canvas.style.width = cw + "px";
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  paint(ctx, photo, faces, selected, cw, ch, scale);
  canvas.dataset.boxes = JSON.stringify(faces.filter((f) => f.box).map((f) => {
    const b = f.box;
    return { number: f.number, x: b.left * scale, y: b.top * scale, w: (b.right - b.left) * scale,
             h: (b.bottom - b.top) * scale };
  }));
  canvas.dataset.scale = String(scale);
  canvas.hidden = false;
}

function paint(ctx, photo, faces, selected, cw, ch, scale) {
  ctx.fillStyle = "#e5e8ef";
  ctx.fillRect(0, 0, cw, ch);
  if (photo.image) ctx.drawImage(photo.image, 0, 0, cw, ch);
  for (const face of faces) {
    if (!face.box) continue;
    const b = face.box;
    const x = b.left * scale, y = b.top * scale, w = (b.right - b.left) * scale, h = (b.bottom - b.top) * scale;
    const colour = face.number === selected ? SELECTED : BOX;
    ctx.lineWidth = Math.max(2, Math.round(Math.min(cw, ch) / 150));
    ctx.strokeStyle = colour;
    ctx.strokeRect(x, y, w, h);
    if (face.number == null) continue;
    const label = String(face.number);
    const size = Math.max(14, Math.round(Math.min(w, 40) * 0.6));
    ctx.font = "bold " + size + "px system-ui, sans-serif";
    const tw = ctx.measureText(label).width + 8;
    ctx.fillStyle = colour;
    ctx.fillRect(x, Math.max(0, y - size - 6), tw, size + 6);
    ctx.fillStyle = "#000";
    ctx.fillText(label, x + 4, Math.max(size, y - 5));
  }
}

/** The annotated photo at (up to 2048 px of) its own size, as a PNG blob. */
export function annotatedBlob(photo, faces, selected) {
  const scale = Math.min(1, 2048 / Math.max(photo.width, photo.height));
  const c = document.createElement("canvas");
  c.width = Math.round(photo.width * scale);
  c.height = Math.round(photo.height * scale);
  paint(c.getContext("2d"), photo, faces, selected, c.width, c.height, scale);
  return new Promise((resolve) => c.toBlob(resolve, "image/png"));
}

/** The face's crop (with a margin) from the user's photo, as a data: URL. */
export function faceCrop(photo, box, size = 120) {
  if (!photo.image || !box) return "";
  const sx = photo.image.naturalWidth / photo.width, sy = photo.image.naturalHeight / photo.height;
  const w = box.right - box.left, h = box.bottom - box.top, m = 0.25 * Math.max(w, h);
  const side = Math.max(w, h) + 2 * m;
  const cx = (box.left + box.right) / 2, cy = (box.top + box.bottom) / 2;
  const c = document.createElement("canvas");
  c.width = size; c.height = size;
  const ctx = c.getContext("2d");
  ctx.fillStyle = "#888";
  ctx.fillRect(0, 0, size, size);
  ctx.drawImage(photo.image, (cx - side / 2) * sx, (cy - side / 2) * sy, side * sx, side * sy, 0, 0, size, size);
  return c.toDataURL("image/jpeg", 0.85);
}

/**
 * Similarity in plain words: a badge ("same person" at or past the threshold, else "look-alike"),
 * a labelled bar with the threshold marked, the percentage and the distance.
 */
export function similarityView(similarity, distance, threshold) {
  const same = similarity >= 50;
  const box = document.createElement("div");
  box.className = "sim";
  const badge = document.createElement("span");
  badge.className = "badge " + (same ? "same" : "alike");
  badge.textContent = same ? "same person" : "look-alike";
  const bar = document.createElement("span");
  bar.className = "bar";
  bar.setAttribute("role", "img");
  bar.setAttribute("aria-label", "similarity " + pct(similarity) + " (same person from 50 %)");
  const fill = document.createElement("span");
  fill.className = "fill" + (same ? " same" : "");
  fill.style.width = Math.max(0, Math.min(100, similarity)) + "%";
  const mark = document.createElement("span");
  mark.className = "mark";
  bar.append(fill, mark);
  const num = document.createElement("span");
  num.className = "pct";
  num.textContent = pct(similarity);
  const dist = document.createElement("span");
  dist.className = "dist";
  dist.textContent = "distance " + (distance == null ? "—" : distance.toFixed(3)) +
    (threshold ? " (same person ≤ " + threshold.toFixed(3) + ")" : "");
  box.append(badge, bar, num, dist);
  return box;
}

/** Dim the shown result and disable the controls that act on it while a request runs. */
export function setBusy(on, dimmed, controls) {
  for (const el of dimmed) if (el) { el.classList.toggle("busy", on); el.setAttribute("aria-busy", String(on)); }
  for (const el of controls) if (el) el.disabled = on;
}

export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}

export function downloadJSON(data, name) {
  download(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }), name);
}

/** Wire a drop zone (label + hidden input): change, drag-and-drop, Enter/Space. */
export function dropZone(zone, input, onFile) {
  input.addEventListener("change", () => { if (input.files[0]) onFile(input.files[0]); });
  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (ev) => {
    ev.preventDefault(); zone.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, (ev) => {
    ev.preventDefault(); zone.classList.remove("over");
  }));
  zone.addEventListener("drop", (ev) => {
    const f = ev.dataTransfer && ev.dataTransfer.files && ev.dataTransfer.files[0];
    if (f) onFile(f);
  });
  zone.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); input.click(); }
  });
}

/** A file's base name without extension, for download names. */
/** A link to a gallery face's whole photo (new tab) around its aligned thumbnail. */
export function photoLink(face, alt, size, { className = "", title = "", lazy = false } = {}) {
  const a = document.createElement("a");
  a.href = face.image_url;
  a.target = "_blank";
  a.rel = "noopener";
  if (className) a.className = className;
  if (title) a.title = title;
  const img = document.createElement("img");
  img.src = face.thumbnail_url;
  img.alt = alt;
  if (lazy) img.loading = "lazy";
  img.width = size; img.height = size;
  a.appendChild(img);
  return a;
}

export function stem(file) { return ((file && file.name) || "photo").replace(/\.[^.]*$/, "") || "photo"; }

export function showError(errorEl, statusEl, message) {
  errorEl.textContent = message;
  errorEl.hidden = false;
  if (statusEl) statusEl.textContent = "";
}
export function clearError(errorEl) { errorEl.hidden = true; errorEl.textContent = ""; }
