// The console's one script: the prediction form posts to /predict and /explain (same origin) and
// draws the answer: the prediction, and a waterfall of the top SHAP contributions as inline SVG.
"use strict";
(function () {
  const form = document.getElementById("predict-form");
  if (!form) return;
  const SVG = "http://www.w3.org/2000/svg";  // the SVG namespace name, not a request

  function record() {
    const rec = {};
    for (const el of form.querySelectorAll("[name]")) {
      const raw = el.value.trim();
      if (raw === "") { rec[el.name] = null; continue; }
      if (el.dataset.kind === "numeric") {
        const num = Number(raw);
        rec[el.name] = Number.isFinite(num) ? num : raw;  // a non-number goes as text: the contract names it
      } else {
        rec[el.name] = raw;
      }
    }
    return rec;
  }

  function clearErrors() {
    for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
    for (const el of form.querySelectorAll(".invalid")) el.classList.remove("invalid");
  }

  function showErrors(body) {
    const errors = (body && body.errors) || [];
    let shown = false;
    for (const e of errors) {
      const slot = document.getElementById("error-" + e.field);
      if (slot) {
        slot.textContent = e.reason;
        slot.parentElement.classList.add("invalid");
        shown = true;
      }
    }
    if (!shown) document.getElementById("error-body").textContent = (body && body.detail) || "request failed";
  }

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fmt(x) { return Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(3); }

  function waterfall(item) {
    const steps = item.top.map((c) => ({ label: c.feature + " = " + c.value, v: c.shap }));
    if (Math.abs(item.rest) > 1e-12) steps.push({ label: "other features", v: item.rest });
    const row = 24, label = 190, width = 640, plot = width - label - 70;
    let x = item.base_value;
    const points = [x];
    for (const s of steps) { x += s.v; points.push(x); }
    const lo = Math.min(...points), hi = Math.max(...points), span = hi - lo || 1;
    const px = (v) => label + plot * (v - lo) / span;
    const svg = el("svg", { width: width, height: (steps.length + 2) * row + 10, role: "img",
                            "aria-label": "waterfall of contributions" });
    svg.appendChild(el("text", { x: label - 8, y: 16, "text-anchor": "end" }, "base value"));
    svg.appendChild(el("text", { x: px(item.base_value), y: 16 }, fmt(item.base_value)));
    let at = item.base_value;
    steps.forEach((s, i) => {
      const y = (i + 1) * row + 4, from = px(at), to = px(at + s.v);
      svg.appendChild(el("text", { x: label - 8, y: y + 12, "text-anchor": "end" }, s.label));
      const bar = el("rect", { x: Math.min(from, to), y: y, width: Math.max(Math.abs(to - from), 1), height: 16,
                               class: s.v >= 0 ? "pos" : "neg" });
      bar.appendChild(el("title", {}, s.label + ": " + (s.v >= 0 ? "+" : "") + fmt(s.v)));
      svg.appendChild(bar);
      svg.appendChild(el("text", { x: Math.max(from, to) + 4, y: y + 12 }, (s.v >= 0 ? "+" : "") + fmt(s.v)));
      at += s.v;
    });
    const y = (steps.length + 1) * row + 4;
    svg.appendChild(el("text", { x: label - 8, y: y + 12, "text-anchor": "end" }, "model output"));
    svg.appendChild(el("line", { x1: px(at), x2: px(at), y1: row, y2: y + 16, class: "axis" }));
    svg.appendChild(el("text", { x: px(at) + 4, y: y + 12 }, fmt(item.raw_output)));
    return svg;
  }

  async function post(path, rec) {
    const r = await fetch(path, { method: "POST", headers: { "content-type": "application/json" },
                                  body: JSON.stringify({ records: [rec] }) });
    return { ok: r.ok, body: await r.json() };
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    const rec = record();
    const pred = await post("/predict", rec);
    if (!pred.ok) { document.getElementById("result").hidden = true; showErrors(pred.body); return; }
    const ex = await post("/explain?top=6", rec);
    document.getElementById("prediction").textContent = String(pred.body.predictions[0]);
    document.getElementById("model-version").textContent = "version " + pred.body.model.version;
    const probs = pred.body.probabilities ? pred.body.probabilities[0] : null;
    document.getElementById("probabilities").textContent = probs
      ? Object.entries(probs).map(([k, v]) => "P(" + k + ") = " + v.toFixed(3)).join(", ") : "";
    const box = document.getElementById("waterfall");
    const tbody = document.querySelector("#contributions tbody");
    box.replaceChildren();
    tbody.replaceChildren();
    if (ex.ok) {
      const item = ex.body.explanations[0];
      box.appendChild(waterfall(item));
      for (const c of item.top) {
        const tr = document.createElement("tr");
        tr.dataset.feature = c.feature;
        for (const t of [c.feature, String(c.value), (c.shap >= 0 ? "+" : "") + fmt(c.shap)]) {
          const td = document.createElement("td");
          td.textContent = t;
          tr.appendChild(td);
        }
        tbody.appendChild(tr);
      }
    } else {
      showErrors(ex.body);
    }
    document.getElementById("result").hidden = false;
  });
})();
