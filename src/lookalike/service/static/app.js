// Look-alikes: choose, drop or snap a photo → POST /api/search → numbered boxes beside the look-alikes,
// one card per person (best face first; the others behind "more photos of X"). Only the newest
// request's answer is shown; an error clears the previous photo's result.
import {
  $, Latest, annotatedBlob, clearError, download, downloadJSON, drawPhoto, dropZone, faceCrop, loadPhoto,
  photoLink, pretty, request, setBusy, showError, similarityView, sizeProblem, stem,
} from "./common.js";

const main = $("main");
const maxBytes = Number(main.dataset.maxBytes), maxK = Number(main.dataset.maxK);
const threshold = Number(main.dataset.threshold);
const drop = $("drop"), fileInput = $("file"), kSelect = $("k"), distinct = $("distinct");
const statusEl = $("status"), errorEl = $("error");
const result = $("result"), canvas = $("photo"), facesEl = $("faces");
const matches = $("matches"), grid = $("grid"), matchesTitle = $("matches-title");
const webcam = $("webcam"), video = $("video"), cameraBtn = $("camera");
const dlPhoto = $("dl-photo"), dlJson = $("dl-json");
/** how many neighbours to ask for per shown person, so that k distinct people are usually found */
const PER_PERSON = 5;

const latest = new Latest();
let current = null;   // {file, photo, answer, faces: Map number → face, crops: Map number → data URL}
let selected = null;  // the selected face's number
let lastFile = null;
let stream = null;

function busy(on) {
  setBusy(on, [result, matches], [cameraBtn, dlPhoto, dlJson, ...facesEl.querySelectorAll("button"),
    ...grid.querySelectorAll("button")]);
}

/** Forget the shown photo and its results (after an error, or before a new photo's answer). */
function clearResult() {
  current = null;
  selected = null;
  facesEl.replaceChildren();
  grid.replaceChildren();
  matches.hidden = true;
  result.hidden = true;
  canvas.dataset.boxes = "[]";
  busy(false);
}

function fail(message) {
  clearResult();
  showError(errorEl, statusEl, message);
}

function fetchSize() { return Math.min(maxK, Number(kSelect.value) * (distinct.checked ? PER_PERSON : 1)); }

async function analyse(file) {
  const ticket = latest.start();
  clearError(errorEl);
  lastFile = file;
  if (!file) { clearResult(); return; }
  const tooBig = sizeProblem(file, maxBytes);
  if (tooBig) { latest.cancel(); fail(tooBig); return; }
  busy(true);
  statusEl.textContent = "Looking for faces…";
  const form = new FormData();
  form.append("file", file, file.name || "photo.jpg");
  form.append("k", String(Math.max(Number(kSelect.value), fetchSize())));
  form.append("face", "all");
  const [answer, photo] = await Promise.all([
    request("/api/search", { method: "POST", body: form }, ticket),
    loadPhoto(file, ticket.signal),
  ]);
  if (!answer || !ticket.current()) return;  // a newer photo was chosen meanwhile
  if (answer.error) {
    fail(answer.error);
    if (photo && answer.status === 422) {  // no face: show this photo (not the previous one), without boxes
      current = { file, photo, answer: null, faces: new Map(), crops: new Map() };
      drawPhoto(canvas, photo, [], null);
      result.hidden = false;
      dlJson.disabled = dlPhoto.disabled = true;
    }
    return;
  }
  const a = answer.data;
  clearResult();
  const shown = photo || { image: null, width: a.width, height: a.height };
  current = { file, photo: { ...shown, width: a.width, height: a.height }, answer: a, faces: new Map(), crops: new Map() };
  for (const f of a.faces) current.faces.set(f.number, f);
  statusEl.textContent = (a.face_count === 1 ? "1 face found." : a.face_count + " faces found.") +
    (a.faces.length < a.face_count ? " The " + a.faces.length + " largest are searched; choose another face to search it." : "") +
    (photo && photo.preview ? " (Preview converted by the server.)" : "");
  renderFaceButtons();
  selectFace(a.faces[0].number);
}

function renderFaceButtons() {
  facesEl.replaceChildren();
  for (let n = 1; n <= current.answer.face_count; n++) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = "Face " + n;
    b.dataset.number = String(n);
    b.setAttribute("aria-pressed", String(n === selected));
    b.addEventListener("click", () => selectFace(n));
    facesEl.appendChild(b);
  }
}

function redraw() {
  if (!current) return;
  drawPhoto(canvas, current.photo, [...current.faces.values()], selected);
  result.hidden = false;
}

/** Show face n's look-alikes, asking the server for that face alone when it was past the first answer's cap. */
async function selectFace(n) {
  if (!current || !current.answer) return;
  selected = n;
  facesEl.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(Number(b.dataset.number) === n)));
  if (!current.faces.has(n)) {
    const ticket = latest.start();
    const shown = current;
    busy(true);
    statusEl.textContent = "Searching face " + n + "…";
    const form = new FormData();
    form.append("file", shown.file, shown.file.name || "photo.jpg");
    form.append("k", String(fetchSize()));
    form.append("face", String(n));
    const answer = await request("/api/search", { method: "POST", body: form }, ticket);
    if (!answer || current !== shown) return;
    busy(false);
    if (answer.error) { showError(errorEl, statusEl, answer.error); return; }
    for (const f of answer.data.faces) shown.faces.set(f.number, f);
    statusEl.textContent = "Face " + n + " of " + shown.answer.face_count + ".";
  }
  redraw();
  renderGrid(current.faces.get(n));
}

function crop(face) {
  if (!current.crops.has(face.number)) current.crops.set(face.number, faceCrop(current.photo, face.box));
  return current.crops.get(face.number);
}

/** Neighbours grouped by person, best first (a face without a person is its own group). */
function byPerson(neighbours) {
  const groups = new Map();
  for (const n of neighbours) {
    const key = n.person || "#" + n.face_id;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(n);
  }
  return [...groups.values()];
}

function thumb(n, cls) {
  return photoLink(n, pretty(n.person) + ", gallery photo " + n.image, 150,
                   { className: cls, title: "open the whole photo (" + n.image + ")", lazy: true });
}

function renderGrid(face) {
  grid.replaceChildren();
  matchesTitle.textContent = "Face " + face.number + " looks like";
  $("matches-hint").textContent = "Same person at distance ≤ " + threshold.toFixed(3) +
    " (50 %, the mark on each bar); farther is a look-alike.";
  const k = Number(kSelect.value);
  const groups = distinct.checked ? byPerson(face.neighbours).slice(0, k) : face.neighbours.slice(0, k).map((n) => [n]);
  const mine = crop(face);
  for (const group of groups) {
    const n = group[0];
    const li = document.createElement("li");
    li.className = "card";
    li.dataset.person = n.person || "";
    li.dataset.rank = String(n.rank);
    const pair = document.createElement("div");
    pair.className = "pair-imgs";
    if (mine) {
      const you = document.createElement("img");
      you.src = mine;
      you.alt = "your face " + face.number;
      you.className = "you";
      pair.appendChild(you);
    }
    pair.appendChild(thumb(n, "match"));
    const name = document.createElement("div");
    name.className = "name";
    name.textContent = pretty(n.person);
    const meta = document.createElement("div");
    meta.className = "meta";
    const rank = document.createElement("span");
    rank.textContent = "#" + n.rank;
    meta.appendChild(rank);
    li.append(pair, name, meta, similarityView(n.similarity, n.distance, null));
    if (group.length > 1) {
      const more = document.createElement("button");
      more.type = "button";
      more.className = "more secondary";
      more.textContent = "More photos of " + pretty(n.person) + " (" + (group.length - 1) + ")";
      more.setAttribute("aria-expanded", "false");
      const list = document.createElement("div");  // not a list item: #grid li are the people
      list.className = "others";
      list.hidden = true;
      const fill = () => {  // built on first opening: a card holds one link until then
        for (const o of group.slice(1)) {
          const item = document.createElement("div");
          item.className = "other-face";
          item.dataset.rank = String(o.rank);
          const cap = document.createElement("span");
          cap.textContent = "#" + o.rank + " · " + Math.floor(o.similarity) + " % · distance " + o.distance.toFixed(3);
          item.append(thumb(o, "other"), cap);
          list.appendChild(item);
        }
      };
      more.addEventListener("click", () => {
        if (!list.childElementCount) fill();
        list.hidden = !list.hidden;
        more.setAttribute("aria-expanded", String(!list.hidden));
      });
      li.append(more, list);
    }
    grid.appendChild(li);
  }
  matches.hidden = groups.length === 0;
}

canvas.addEventListener("click", (ev) => {
  if (!current) return;
  const rect = canvas.getBoundingClientRect();
  const px = ev.clientX - rect.left, py = ev.clientY - rect.top;
  const boxes = JSON.parse(canvas.dataset.boxes || "[]");
  let best = null, area = Infinity;  // the smallest box containing the click wins (a face inside another's box)
  for (const b of boxes) {
    if (px >= b.x && px <= b.x + b.w && py >= b.y && py <= b.y + b.h && b.w * b.h < area) { best = b.number; area = b.w * b.h; }
  }
  if (best != null) selectFace(best);
});

dlPhoto.addEventListener("click", async () => {
  if (!current) return;
  const blob = await annotatedBlob(current.photo, [...current.faces.values()], selected);
  if (blob) download(blob, "lookalike-" + stem(current.file) + ".png");
});
dlJson.addEventListener("click", () => {
  if (!current || !current.answer) return;
  downloadJSON({ ...current.answer, faces: [...current.faces.values()] }, "lookalike-" + stem(current.file) + ".json");
});

dropZone(drop, fileInput, analyse);
kSelect.addEventListener("change", () => { if (lastFile) analyse(lastFile); });
distinct.addEventListener("change", () => { if (lastFile) analyse(lastFile); });
window.addEventListener("resize", () => { if (current) redraw(); });

// webcam snapshot
function stopCamera() {
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  video.srcObject = null;
  webcam.hidden = true;
}
cameraBtn.addEventListener("click", async () => {
  clearError(errorEl);
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showError(errorEl, statusEl, "No camera is available here (browsers allow the camera only on https:// or localhost pages).");
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: false });
  } catch (e) {
    showError(errorEl, statusEl, "The camera could not be started: " + (e && e.message ? e.message : e) + ".");
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
