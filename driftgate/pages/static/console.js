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

  // Numbers as on every server-drawn page: 4 significant digits, thousands separators, no exponent.
  function fmt(x) {
    if (typeof x !== "number" || !Number.isFinite(x)) return x === null || x === undefined ? "-" : String(x);
    return x.toLocaleString("en-US", { maximumSignificantDigits: 4 });
  }
  function signed(x) { return (x > 0 ? "+" : "") + fmt(x); }
  function niceTicks(lo, hi) {
    if (hi - lo < 1e-12) { const pad = Math.abs(lo) * 0.1 || 1; lo -= pad; hi += pad; }
    const raw = (hi - lo) / 4, power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
    const ticks = [];
    for (let t = Math.floor(lo / step) * step; t < hi + step * 0.999; t += step) ticks.push(Number(t.toPrecision(12)));
    return ticks;
  }
  const CHAR_W = 6.6;
  function fit(text, room) {
    return text.length * CHAR_W <= room ? text : text.slice(0, Math.max(Math.floor(room / CHAR_W) - 1, 1)) + "…";
  }

  // The waterfall: from the base value (the model's average raw output) each feature's contribution,
  // then "other features", to the model's raw output; an x axis with ticks and its title.
  function waterfall(item) {
    const steps = item.top.map((c) => ({ label: c.feature + " = " + c.value, v: c.shap }));
    steps.push({ label: "other features", v: item.rest || 0 });
    const row = 24, label = 200, width = 680, valueW = 70;
    const plotL = label + valueW, plotR = width - valueW;
    let x = item.base_value;
    const points = [x];
    for (const s of steps) { x += s.v; points.push(x); }
    const ticks = niceTicks(Math.min(...points), Math.max(...points));
    const t0 = ticks[0], t1 = ticks[ticks.length - 1];
    const px = (v) => plotL + (plotR - plotL) * (v - t0) / (t1 - t0 || 1);
    const axisY = (steps.length + 2) * row + 4;
    const height = axisY + 46;
    const svg = el("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height, class: "chart",
                            role: "img", "aria-label": "waterfall of SHAP contributions" });
    for (const t of ticks) {
      svg.appendChild(el("line", { x1: px(t), x2: px(t), y1: 0, y2: axisY, class: "grid" }));
      svg.appendChild(el("text", { x: px(t), y: axisY + 14, "text-anchor": "middle", class: "label" }, fmt(t)));
    }
    svg.appendChild(el("line", { x1: plotL, x2: plotR, y1: axisY, y2: axisY, class: "axis" }));
    const base = el("rect", { x: px(item.base_value) - 1, y: 4, width: 2, height: 16, class: "base" });
    svg.appendChild(base);
    svg.appendChild(el("text", { x: label - 8, y: 16, "text-anchor": "end", class: "label" }, "base value"));
    svg.appendChild(el("text", { x: plotL - 6, y: 16, "text-anchor": "end", class: "value" }, fmt(item.base_value)));
    let at = item.base_value;
    steps.forEach((s, i) => {
      const y = (i + 1) * row + 4, from = px(at), to = px(at + s.v);
      const name = el("text", { x: label - 8, y: y + 12, "text-anchor": "end", class: "label" }, fit(s.label, label - 10));
      name.appendChild(el("title", {}, s.label));
      svg.appendChild(name);
      const bar = el("rect", { x: Math.min(from, to), y: y, width: Math.max(Math.abs(to - from), 1), height: 16,
                               class: s.v >= 0 ? "pos" : "neg" });
      bar.appendChild(el("title", {}, s.label + ": " + signed(s.v)));
      svg.appendChild(bar);
      svg.appendChild(el("text", { x: plotL - 6, y: y + 12, "text-anchor": "end", class: "value" }, signed(s.v)));
      at += s.v;
    });
    const y = (steps.length + 1) * row + 4;
    svg.appendChild(el("text", { x: label - 8, y: y + 12, "text-anchor": "end", class: "label" }, "model output"));
    svg.appendChild(el("line", { x1: px(at), x2: px(at), y1: row, y2: y + 16, class: "axis" }));
    svg.appendChild(el("text", { x: plotL - 6, y: y + 12, "text-anchor": "end", class: "value" }, fmt(item.raw_output)));
    svg.appendChild(el("text", { x: (plotL + plotR) / 2, y: axisY + 34, "text-anchor": "middle", class: "axis-title" },
                       "model output (raw: " + (form.dataset.task === "classification" ? "log-odds" : "target units") + ")"));
    return svg;
  }

  function tableRow(cells, cls) {
    const tr = document.createElement("tr");
    if (cls) tr.className = cls;
    for (const t of cells) {
      const td = document.createElement("td");
      td.textContent = t;
      tr.appendChild(td);
    }
    return tr;
  }

  async function post(path, rec) {
    const r = await fetch(path, { method: "POST", headers: { "content-type": "application/json" },
                                  body: JSON.stringify({ records: [rec] }) });
    return { ok: r.ok, body: await r.json() };
  }

  const busy = document.getElementById("busy");
  const submit = document.getElementById("predict-submit");

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    const rec = record();
    busy.hidden = false;
    submit.disabled = true;
    try {
      await answer(rec);
    } catch (err) {
      document.getElementById("error-body").textContent = "the service did not answer: " + err;
    } finally {
      busy.hidden = true;
      submit.disabled = false;
    }
  });

  async function answer(rec) {
    const pred = await post("/predict", rec);
    if (!pred.ok) { document.getElementById("result").hidden = true; showErrors(pred.body); return; }
    const ex = await post("/explain?top=6", rec);
    const value = pred.body.predictions[0];
    document.getElementById("prediction").textContent = typeof value === "number" ? fmt(value) : String(value);
    document.getElementById("model-version").textContent = "version " + pred.body.model.version;
    const probs = pred.body.probabilities ? pred.body.probabilities[0] : null;
    document.getElementById("probabilities").textContent = probs
      ? Object.entries(probs).map(([k, v]) => "P(" + k + ") = " + fmt(v)).join(", ") : "";
    const box = document.getElementById("waterfall");
    const tbody = document.querySelector("#contributions tbody");
    box.replaceChildren();
    tbody.replaceChildren();
    if (ex.ok) {
      const item = ex.body.explanations[0];
      box.appendChild(waterfall(item));
      tbody.appendChild(tableRow(["base value", "", fmt(item.base_value)], "base"));
      for (const c of item.top) {
        const tr = tableRow([c.feature, typeof c.value === "number" ? fmt(c.value) : String(c.value), signed(c.shap)]);
        tr.dataset.feature = c.feature;
        tbody.appendChild(tr);
      }
      tbody.appendChild(tableRow(["other features", "", signed(item.rest || 0)], "rest"));
      tbody.appendChild(tableRow(["model output", "", fmt(item.raw_output)], "total"));
    } else {
      showErrors(ex.body);
    }
    document.getElementById("result").hidden = false;
  }
})();
