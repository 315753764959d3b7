// Identify: who is each face of a photo? POST /api/identify → numbered boxes and, per face, the person
// (or "unknown"), their similarity in plain words and the nearest gallery faces that voted.
import {
  $, Latest, annotatedBlob, clearError, download, downloadJSON, drawPhoto, dropZone, faceCrop, loadPhoto,
  photoLink, pretty, request, setBusy, showError, similarityView, sizeProblem, stem,
} from "./common.js";

const main = $("main");
const maxBytes = Number(main.dataset.maxBytes);
const statusEl = $("status"), errorEl = $("error");
const result = $("result"), canvas = $("photo"), answers = $("answers"), list = $("people-found");
const dlPhoto = $("dl-photo"), dlJson = $("dl-json");
const latest = new Latest();
let current = null;  // {file, photo, answer}

function busy(on) { setBusy(on, [result, answers], [dlPhoto, dlJson]); }

function clearResult() {
  current = null;
  list.replaceChildren();
  answers.hidden = true;
  result.hidden = true;
  canvas.dataset.boxes = "[]";
  busy(false);
}

async function identify(file) {
  const ticket = latest.start();
  clearError(errorEl);
  const tooBig = sizeProblem(file, maxBytes);
  if (tooBig) { latest.cancel(); clearResult(); showError(errorEl, statusEl, tooBig); return; }
  busy(true);
  statusEl.textContent = "Looking for faces…";
  const form = new FormData();
  form.append("file", file, file.name || "photo.jpg");
  form.append("face", "all");
  const [answer, photo] = await Promise.all([
    request("/api/identify", { method: "POST", body: form }, ticket),
    loadPhoto(file, ticket.signal),
  ]);
  if (!answer || !ticket.current()) return;
  clearResult();
  if (answer.error) { showError(errorEl, statusEl, answer.error); return; }
  const a = answer.data;
  current = { file, photo: { ...(photo || { image: null }), width: a.width, height: a.height }, answer: a };
  const known = a.faces.filter((f) => f.known).length;
  statusEl.textContent = (a.face_count === 1 ? "1 face found" : a.face_count + " faces found") + "; " +
    known + " recognised.";
  render();
}

function render() {
  const a = current.answer;
  drawPhoto(canvas, current.photo, a.faces, null);
  result.hidden = false;
  list.replaceChildren();
  for (const f of a.faces) {
    const li = document.createElement("li");
    li.className = "identity card";
    li.dataset.number = String(f.number);
    li.dataset.person = f.person || "";
    const you = document.createElement("img");
    you.className = "you";
    you.src = faceCrop(current.photo, f.box);
    you.alt = "face " + f.number + " of your photo";
    const body = document.createElement("div");
    const title = document.createElement("h3");
    title.textContent = "Face " + f.number + ": " + (f.known ? pretty(f.person) : "unknown");
    body.appendChild(title);
    if (f.known) {
      body.appendChild(similarityView(f.similarity, f.distance, a.threshold));
      const votes = document.createElement("p");
      votes.className = "hint";
      votes.textContent = f.votes + " of the nearest gallery faces are " + pretty(f.person) + ".";
      body.appendChild(votes);
    } else {
      const p = document.createElement("p");
      p.className = "hint";
      p.textContent = "Nobody in the gallery is within the same-person distance " + a.threshold.toFixed(3) + ".";
      body.appendChild(p);
    }
    const near = document.createElement("ul");
    near.className = "near";
    near.setAttribute("aria-label", "nearest gallery faces");
    for (const n of f.neighbours.slice(0, 5)) {
      const item = document.createElement("li");
      const link = photoLink(n, pretty(n.person) + ", " + Math.floor(n.similarity) + " %", 64);
      const cap = document.createElement("span");
      cap.textContent = pretty(n.person) + " · " + n.distance.toFixed(3);
      item.append(link, cap);
      near.appendChild(item);
    }
    body.appendChild(near);
    li.append(you, body);
    list.appendChild(li);
  }
  answers.hidden = false;
}

dlPhoto.addEventListener("click", async () => {
  if (!current) return;
  const blob = await annotatedBlob(current.photo, current.answer.faces, null);
  if (blob) download(blob, "identify-" + stem(current.file) + ".png");
});
dlJson.addEventListener("click", () => { if (current) downloadJSON(current.answer, "identify-" + stem(current.file) + ".json"); });
dropZone($("drop"), $("file"), identify);
window.addEventListener("resize", () => { if (current) drawPhoto(canvas, current.photo, current.answer.faces, null); });
