// Same person? Two photos side by side → POST /api/verify → the verdict, the similarity in plain words,
// the distance and the threshold; the compared face is boxed in each photo.
import {
  $, Latest, clearError, downloadJSON, drawPhoto, dropZone, loadPhoto, request, setBusy, showError,
  similarityView, sizeProblem,
} from "./common.js";

const main = $("main");
const maxBytes = Number(main.dataset.maxBytes);
const statusEl = $("status"), errorEl = $("error");
const verdict = $("verdict"), title = $("verdict-title"), detail = $("verdict-detail"), dlJson = $("dl-json");
const sides = {
  a: { canvas: $("photo-a"), wrap: $("wrap-a"), file: null, photo: null, box: null, loads: new Latest() },
  b: { canvas: $("photo-b"), wrap: $("wrap-b"), file: null, photo: null, box: null, loads: new Latest() },
};
const latest = new Latest();
let answer = null;

function draw(side) {
  const s = sides[side];
  if (!s.photo) { s.canvas.hidden = true; return; }
  drawPhoto(s.canvas, s.photo, s.box ? [{ number: null, box: s.box }] : [], null, s.wrap);
}

function clearVerdict() {
  answer = null;
  verdict.hidden = true;
  detail.replaceChildren();
  sides.a.box = sides.b.box = null;
  setBusy(false, [verdict], [dlJson]);
}

async function choose(side, file) {
  const s = sides[side];
  clearError(errorEl);
  const tooBig = sizeProblem(file, maxBytes);
  latest.cancel();
  clearVerdict();
  if (tooBig) { s.file = s.photo = null; draw(side); showError(errorEl, statusEl, tooBig); return; }
  s.file = file;
  s.photo = null;
  const ticket = s.loads.start();
  const photo = await loadPhoto(file, ticket.signal);
  if (!ticket.current()) return;
  s.photo = photo;
  draw("a"); draw("b");
  if (!photo) { s.file = null; showError(errorEl, statusEl, "This file could not be read as a photo."); return; }
  if (sides.a.file && sides.b.file) compare();
  else statusEl.textContent = "Now choose the " + (sides.a.file ? "second" : "first") + " photo.";
}

async function compare() {
  const ticket = latest.start();
  setBusy(true, [verdict], [dlJson]);
  statusEl.textContent = "Comparing…";
  const form = new FormData();
  form.append("file_a", sides.a.file, sides.a.file.name || "a.jpg");
  form.append("file_b", sides.b.file, sides.b.file.name || "b.jpg");
  const res = await request("/api/verify", { method: "POST", body: form }, ticket);
  if (!res) return;
  clearVerdict();
  if (res.error) { draw("a"); draw("b"); showError(errorEl, statusEl, res.error); return; }
  answer = res.data;
  sides.a.box = answer.box_a;
  sides.b.box = answer.box_b;
  draw("a"); draw("b");
  statusEl.textContent = "";
  title.textContent = answer.same ? "Same person" : "Different people";
  title.className = answer.same ? "same" : "different";
  const words = document.createElement("p");
  words.textContent = "Distance " + answer.distance.toFixed(3) + (answer.same ? " is within" : " is beyond") +
    " the same-person threshold " + answer.threshold.toFixed(3) + ".";
  detail.append(similarityView(answer.similarity, answer.distance, answer.threshold), words);
  verdict.hidden = false;
}

dlJson.addEventListener("click", () => { if (answer) downloadJSON(answer, "same-person.json"); });
dropZone($("drop-a"), $("file-a"), (f) => choose("a", f));
dropZone($("drop-b"), $("file-b"), (f) => choose("b", f));
window.addEventListener("resize", () => { draw("a"); draw("b"); });
