// lookalike composed-query page: POST /api/compose/labels → people and attribute values; POST /api/compose → photos.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const statusEl = $("status"), errorEl = $("error"), labelsStatus = $("labels-status");
  const composeForm = $("compose-form"), personSel = $("person"), attrSpan = $("attributes"), results = $("results");
  let labelsBody = null;

  function showError(message) { errorEl.textContent = message; errorEl.hidden = false; statusEl.textContent = ""; }
  function clearError() { errorEl.hidden = true; errorEl.textContent = ""; }

  async function post(path, body) {
    const resp = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                     body: JSON.stringify(body) });
    let data = null;
    try { data = await resp.json(); } catch (e) { /* not JSON */ }
    if (!resp.ok) throw new Error((data && data.error && data.error.message) || ("The server answered " + resp.status + "."));
    return data;
  }

  function option(value, text) {
    const o = document.createElement("option");
    o.value = value; o.textContent = text === undefined ? value : text;
    return o;
  }

  $("labels-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearError();
    labelsBody = { folder: $("folder").value.trim(), labels_regex: $("regex").value };
    labelsStatus.textContent = "Reading labels…";
    try {
      const found = await post("/api/compose/labels", labelsBody);
      labelsStatus.textContent = found.photos + " photos, " + found.people + " people" +
        (found.unmatched ? ", " + found.unmatched + " files not matched" : "") + ".";
      personSel.replaceChildren(...found.people_names.map((p) => option(p)));
      attrSpan.replaceChildren();
      for (const [kind, values] of Object.entries(found.attributes)) {
        const label = document.createElement("label");
        label.textContent = kind;
        const sel = document.createElement("select");
        sel.dataset.kind = kind;
        sel.append(option("", "(any)"), ...values.map((v) => option(v)));
        label.append(sel);
        attrSpan.append(label);
      }
      composeForm.hidden = false;
    } catch (e) {
      labelsStatus.textContent = "";
      composeForm.hidden = true;
      showError(e.message);
    }
  });

  composeForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearError();
    const attributes = {};
    for (const sel of attrSpan.querySelectorAll("select")) if (sel.value) attributes[sel.dataset.kind] = sel.value;
    const body = { ...labelsBody, person: personSel.value, attributes,
                   k: parseInt($("k").value, 10) || 10, index: $("index").value };
    statusEl.textContent = "Composing (the first query of a folder fits its attribute models: a few seconds)…";
    results.replaceChildren();
    try {
      const answer = await post("/api/compose", body);
      const w = Object.entries(answer.query.weights).map(([k, v]) => k + " " + v).join(", ");
      statusEl.textContent = answer.neighbours.length + " photos" + (w ? " (attribute weight " + w + ")" : "") + ".";
      for (const n of answer.neighbours) {
        const li = document.createElement("li");
        const wanted = n.person === body.person &&
          Object.entries(attributes).every(([k, v]) => n.attributes[k] === v);
        if (wanted) li.className = "hit";
        const img = document.createElement("img");
        img.src = "/api/compose/photo?path=" + encodeURIComponent(n.image);
        img.alt = n.person + " " + Object.values(n.attributes).join(" ");
        const cap = document.createElement("div");
        cap.textContent = n.rank + ". " + n.person + " · " +
          Object.entries(n.attributes).map(([k, v]) => k + "=" + v).join(", ") + " · " + n.distance.toFixed(3);
        li.append(img, cap);
        results.append(li);
      }
    } catch (e) {
      showError(e.message);
    }
  });
}());
