// Gallery: people with a thumbnail each, searched by name; a person's faces (remove one); enrol photos
// for a person. Writes send the API token (kept for this tab only) as the REST API requires.
import { $, Latest, clearError, photoLink, pretty, request, setBusy, showError } from "./common.js";

const PAGE = 48;
const statusEl = $("status"), errorEl = $("error");
const q = $("q"), peopleEl = $("people"), countEl = $("people-count"), moreBtn = $("more-people");
const personEl = $("person"), personTitle = $("person-title"), facesEl = $("person-faces");
const enrolForm = $("enrol"), nameInput = $("enrol-name"), filesInput = $("enrol-files"), tokenInput = $("token");
const enrolBtn = $("enrol-go");
const listing = new Latest(), opening = new Latest();
let offset = 0;
let openName = null;

tokenInput.value = sessionStorage.getItem("lookalike-token") || "";
tokenInput.addEventListener("change", () => sessionStorage.setItem("lookalike-token", tokenInput.value));

function auth() {
  const t = tokenInput.value.trim();
  return t ? { Authorization: "Bearer " + t } : {};
}

async function loadPeople(append) {
  const ticket = listing.start();
  if (!append) offset = 0;
  const params = new URLSearchParams({ offset: String(offset), limit: String(PAGE) });
  if (q.value.trim()) params.set("q", q.value.trim());
  setBusy(true, [peopleEl], [moreBtn]);
  const res = await request("/api/gallery/people?" + params, {}, ticket);
  if (!res) return;
  setBusy(false, [peopleEl], [moreBtn]);
  if (res.error) { showError(errorEl, statusEl, res.error); return; }
  const d = res.data;
  if (!append) peopleEl.replaceChildren();
  for (const p of d.people) peopleEl.appendChild(personCard(p));
  offset = d.offset + d.people.length;
  countEl.textContent = d.total === 0 ? "Nobody" + (q.value.trim() ? " matches “" + q.value.trim() + "”." : " yet.")
    : "Showing " + offset.toLocaleString("en") + " of " + d.total.toLocaleString("en") + " people.";
  moreBtn.hidden = offset >= d.total;
}

function personCard(p) {
  const li = document.createElement("li");
  li.dataset.person = p.name;
  const b = document.createElement("button");
  b.type = "button";
  b.className = "person";
  if (p.face_id != null) {
    const img = document.createElement("img");
    img.src = "/api/gallery/faces/" + p.face_id + "/thumbnail";
    img.alt = "";  // the button's text names the person
    img.width = 96; img.height = 96;
    img.loading = "lazy";
    b.appendChild(img);
  }
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = pretty(p.name);
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = p.faces + (p.faces === 1 ? " face" : " faces");
  b.append(name, meta);
  b.addEventListener("click", () => openPerson(p.name));
  li.appendChild(b);
  return li;
}

async function openPerson(name) {
  const ticket = opening.start();
  openName = name;
  clearError(errorEl);
  nameInput.value = name;
  setBusy(true, [personEl], []);
  const res = await request("/api/gallery/people/" + encodeURIComponent(name) + "/faces", {}, ticket);
  if (!res) return;
  setBusy(false, [personEl], []);
  if (res.error) {
    personEl.hidden = true;
    openName = null;
    if (res.status !== 404) showError(errorEl, statusEl, res.error);
    return;
  }
  personTitle.textContent = pretty(name) + " — " + res.data.faces.length + (res.data.faces.length === 1 ? " face" : " faces");
  facesEl.replaceChildren();
  for (const f of res.data.faces) {
    const li = document.createElement("li");
    li.dataset.faceId = String(f.face_id);
    const a = photoLink(f, pretty(name) + ", face " + f.face_id + " from " + f.image, 120);
    const rm = document.createElement("button");
    rm.type = "button";
    rm.className = "secondary remove";
    rm.textContent = "Remove";
    rm.setAttribute("aria-label", "Remove face " + f.face_id + " (" + f.image + ")");
    rm.addEventListener("click", () => removeFace(f.face_id, rm));
    li.append(a, rm);
    facesEl.appendChild(li);
  }
  personEl.hidden = false;
}

async function removeFace(faceId, button) {
  clearError(errorEl);
  button.disabled = true;
  const res = await request("/api/gallery/faces/" + faceId, { method: "DELETE", headers: auth() }, new Latest().start());
  button.disabled = false;
  if (!res) return;
  if (res.error) { showError(errorEl, statusEl, res.error); return; }
  const gone = res.data.people_removed.length ? " " + pretty(res.data.people_removed[0]) + " had no face left and was removed." : "";
  statusEl.textContent = "Removed face " + faceId + "." + gone;
  if (openName) await openPerson(openName);
  await loadPeople(false);
}

enrolForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearError(errorEl);
  const name = nameInput.value.trim();
  if (!name || !filesInput.files.length) { showError(errorEl, statusEl, "Give the person's name and choose at least one photo."); return; }
  const form = new FormData();
  form.append("person", name);
  for (const f of filesInput.files) form.append("files", f, f.name);
  setBusy(true, [enrolForm], [enrolBtn, nameInput, filesInput]);
  statusEl.textContent = "Adding " + filesInput.files.length + " photo(s) of " + name + "…";
  const res = await request("/api/gallery/faces", { method: "POST", body: form, headers: auth() }, new Latest().start());
  setBusy(false, [enrolForm], [enrolBtn, nameInput, filesInput]);
  if (!res) return;
  if (res.error) { showError(errorEl, statusEl, res.error); return; }
  const d = res.data;
  statusEl.textContent = "Added " + d.added.length + (d.added.length === 1 ? " face" : " faces") + " of " + pretty(d.person) + "." +
    (d.skipped.length ? " Skipped " + d.skipped.length + ": " + d.skipped.map((s) => s.file + " (" + s.reason + ")").join("; ") + "." : "");
  filesInput.value = "";
  await openPerson(d.person);
  await loadPeople(false);
});

let typing = null;
q.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => loadPeople(false), 200); });
$("find").addEventListener("submit", (ev) => { ev.preventDefault(); loadPeople(false); });
moreBtn.addEventListener("click", () => loadPeople(true));
loadPeople(false);
