// lookalike people page: GET /api/clusters → groups of face thumbnails; name, merge, split, undo, cluster.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const list = $("clusters"), statusEl = $("status"), errorEl = $("error");
  const mergeBtn = $("merge"), moreBtn = $("more"), minSize = $("min-size"), tokenInput = $("token");
  const PAGE = 30;
  let shown = 0;
  const selectedClusters = new Set();

  function showError(message) { errorEl.textContent = message; errorEl.hidden = false; statusEl.textContent = ""; }
  function clearError() { errorEl.hidden = true; errorEl.textContent = ""; }
  function pretty(name) { return name ? name.replace(/_/g, " ") : ""; }

  async function api(method, path, body) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const token = tokenInput.value.trim() || sessionStorage.getItem("lookalike-token") || "";
    if (token) headers["Authorization"] = "Bearer " + token;
    const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await resp.json(); } catch (e) { /* not JSON */ }
    if (!resp.ok) {
      if (resp.status === 401 || resp.status === 403) {
        tokenInput.focus();
        throw new Error("This server needs its API token for changes: type it in the token field.");
      }
      throw new Error((data && data.error && data.error.message) || ("The server answered " + resp.status + "."));
    }
    if (token) sessionStorage.setItem("lookalike-token", token);
    return data;
  }

  function faceButton(faceId, isRep) {
    const li = document.createElement("li");
    if (isRep) li.className = "rep";
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.face = String(faceId);
    b.setAttribute("aria-pressed", "false");
    b.title = "face " + faceId + (isRep ? " (representative)" : "") + " — click to select for splitting off";
    const img = document.createElement("img");
    img.src = "/api/gallery/faces/" + faceId + "/thumbnail";
    img.alt = "face " + faceId;
    img.loading = "lazy";
    b.appendChild(img);
    b.addEventListener("click", () => {
      b.setAttribute("aria-pressed", b.getAttribute("aria-pressed") === "true" ? "false" : "true");
      const card = b.closest(".cluster");
      card.querySelector(".split").disabled = !card.querySelector('.faces button[aria-pressed="true"]');
    });
    li.appendChild(b);
    return li;
  }

  function card(c) {
    const li = document.createElement("li");
    li.className = "cluster";
    li.dataset.cluster = String(c.id);
    const head = document.createElement("header");
    const pick = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.className = "pick";
    box.setAttribute("aria-label", "select group " + c.id + " for merging");
    box.checked = selectedClusters.has(c.id);
    box.addEventListener("change", () => {
      if (box.checked) selectedClusters.add(c.id); else selectedClusters.delete(c.id);
      li.classList.toggle("selected", box.checked);
      mergeBtn.disabled = selectedClusters.size < 2;
    });
    pick.appendChild(box);
    pick.appendChild(document.createTextNode("#" + c.id));
    const name = document.createElement("input");
    name.type = "text";
    name.className = "name";
    name.maxLength = 200;
    name.placeholder = "Who is this?";
    name.value = pretty(c.name);
    name.setAttribute("aria-label", "name of group " + c.id);
    const save = document.createElement("button");
    save.type = "button";
    save.className = "save-name";
    save.textContent = "Name";
    save.addEventListener("click", () => act(async () => {
      const value = name.value.trim();
      await api("PUT", "/api/clusters/" + c.id + "/name", { name: value || null });
      return value ? "Group " + c.id + " is now " + value + "." : "Group " + c.id + " has no name now.";
    }));
    name.addEventListener("keydown", (e) => { if (e.key === "Enter") save.click(); });
    const count = document.createElement("span");
    count.className = "count";
    count.textContent = c.size + (c.size === 1 ? " face" : " faces");
    const split = document.createElement("button");
    split.type = "button";
    split.className = "split secondary";
    split.textContent = "Split selected faces off";
    split.disabled = true;
    split.addEventListener("click", () => act(async () => {
      const faces = [...li.querySelectorAll('.faces button[aria-pressed="true"]')].map((b) => Number(b.dataset.face));
      const out = await api("POST", "/api/clusters/split", { faces });
      return faces.length + " face(s) moved to the new group " + out.id + ".";
    }));
    head.append(pick, name, save, count, split);
    const faces = document.createElement("ol");
    faces.className = "faces";
    c.faces.forEach((f) => faces.appendChild(faceButton(f, f === c.representative)));
    li.append(head, faces);
    li.classList.toggle("selected", box.checked);
    return li;
  }

  async function load(reset) {
    if (reset) { shown = 0; list.replaceChildren(); }
    const data = await api("GET", "/api/clusters?limit=" + PAGE + "&offset=" + shown + "&faces=24&min_size=" + minSize.value);
    data.clusters.forEach((c) => list.appendChild(card(c)));
    shown += data.clusters.length;
    moreBtn.hidden = data.clusters.length < PAGE;
    const s = data.summary;
    statusEl.textContent = s.clusters + " groups (" + s.named + " named) of " + s.clustered_faces + " faces" +
      (s.unclustered_faces ? "; " + s.unclustered_faces + " faces not grouped yet" : "") + ".";
    if (!s.clusters && s.unclustered_faces) statusEl.textContent += " Press “Cluster new faces”.";
  }

  async function act(fn) {
    clearError();
    try {
      const message = await fn();
      await load(true);
      statusEl.textContent = message + " " + statusEl.textContent;
    } catch (e) { showError(e.message); }
  }

  $("run").addEventListener("click", () => act(async () => {
    const r = await api("POST", "/api/clusters/run", { full: false });
    return "Clustered " + r.faces + " face(s).";
  }));
  $("rerun").addEventListener("click", () => act(async () => {
    const r = await api("POST", "/api/clusters/run", { full: true });
    selectedClusters.clear();
    return "Re-clustered " + r.faces + " faces.";
  }));
  mergeBtn.addEventListener("click", () => act(async () => {
    const ids = [...list.querySelectorAll(".cluster")].map((el) => Number(el.dataset.cluster)).filter((id) => selectedClusters.has(id));
    const out = await api("POST", "/api/clusters/merge", { ids });
    selectedClusters.clear();
    mergeBtn.disabled = true;
    return "Merged " + ids.length + " groups into group " + out.id + ".";
  }));
  $("undo").addEventListener("click", () => act(async () => {
    const out = await api("POST", "/api/clusters/undo");
    return "Undone: groups " + out.restored.join(", ") + " are back.";
  }));
  moreBtn.addEventListener("click", () => load(false).catch((e) => showError(e.message)));
  minSize.addEventListener("change", () => load(true).catch((e) => showError(e.message)));
  load(true).catch((e) => showError(e.message));
})();
