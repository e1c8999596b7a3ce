// Live per-site histograms (anywidget ESM, no build step).
// The kernel sends counts (bars) or bin edges + counts (histograms) a few times a second; this
// draws them as small SVG charts. DOM markers are documented in extension/histogram_widget.py.

const SVG = "http://www.w3.org/2000/svg";
// Plot area inside each panel's SVG: room on the left for the y axis, below for the x ticks and title.
const W = 240, H = 150, LEFT = 46, RIGHT = 8, TOP = 8, BOTTOM = 36;
const PW = W - LEFT - RIGHT, PH = H - TOP - BOTTOM;

function fmt(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (Number.isInteger(x) && Math.abs(x) < 1e9) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-4 || a >= 1e6)) return x.toExponential(2);
  return String(Number(x.toPrecision(4)));
}

// Round tick values (1, 2 or 5 times a power of ten) covering [lo, hi]: about `count` of them.
function ticks(lo, hi, count) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw * (1 - 1e-9));
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

// The y axis (probability or density) with round ticks; returns the scale.
function yAxis(svg, top, label) {
  const ys = ticks(0, top, 3);
  const max = Math.max(ys[ys.length - 1], top, 1e-12);
  const sy = (v) => TOP + PH - (v / max) * PH;
  svg.appendChild(svgEl("line", { x1: LEFT, x2: LEFT, y1: TOP, y2: TOP + PH, class: "ppl-axis" }));
  for (const v of ys) {
    svg.appendChild(svgEl("line", { x1: LEFT - 3, x2: LEFT, y1: sy(v), y2: sy(v), class: "ppl-axis" }));
    svg.appendChild(svgEl("text", { x: LEFT - 5, y: sy(v) + 4, "text-anchor": "end", class: "ppl-tick" }, fmt(v)));
  }
  svg.appendChild(svgEl("text", { x: 11, y: TOP + PH / 2, "text-anchor": "middle", class: "ppl-axis-title",
    transform: `rotate(-90 11 ${TOP + PH / 2})` }, label));
  return sy;
}

function xTitle(svg, name) {
  svg.appendChild(svgEl("text", { x: LEFT + PW / 2, y: H - 3, "text-anchor": "middle", class: "ppl-axis-title" }, name));
}

function chart(panel) {
  const svg = svgEl("svg", { width: W, height: H, class: "ppl-chart" });
  svg.appendChild(svgEl("line", { x1: LEFT, x2: LEFT + PW, y1: TOP + PH, y2: TOP + PH, class: "ppl-axis" }));
  // The prior beside the posterior (a conditioned model's runs counted without their weights): an
  // outline on the same bars or bins, drawn over the filled posterior.
  const prior = panel.prior || null;
  const priorTotal = prior ? (prior.reduce((s, x) => s + x, 0) || 1) : 1;
  if (panel.kind === "bars") {
    const total = panel.bars.reduce((s, b) => s + b.count, 0) || 1;
    const n = panel.bars.length;
    const bw = PW / Math.max(n, 1);
    const priorP = prior ? prior.map((c) => c / priorTotal) : [];
    const sy = yAxis(svg, Math.max(...panel.bars.map((b) => b.count / total), ...priorP, 1e-12), "probability");
    const every = Math.max(1, Math.ceil(n / Math.floor(PW / 28)));  // labels at least ~28 px apart
    panel.bars.forEach((b, i) => {
      const f = b.count / total;
      const rect = svgEl("rect", {
        x: LEFT + i * bw + 1, y: sy(f), width: Math.max(bw - 2, 1), height: TOP + PH - sy(f),
        class: "ppl-bar", "data-label": b.label, "data-count": b.count,
      });
      rect.appendChild(svgEl("title", {}, `${b.label}: probability ${fmt(f)} (count ${fmt(b.count)})`));
      svg.appendChild(rect);
      if (prior) {
        const outline = svgEl("rect", {
          x: LEFT + i * bw + 2, y: sy(priorP[i]), width: Math.max(bw - 4, 1), height: TOP + PH - sy(priorP[i]),
          class: "ppl-prior-bar", "data-label": b.label, "data-count": prior[i],
        });
        outline.appendChild(svgEl("title", {}, `${b.label}: prior probability ${fmt(priorP[i])} (count ${prior[i]})`));
        svg.appendChild(outline);
      }
      if (i % every === 0) {
        const label = b.label.length > 8 ? b.label.slice(0, 7) + "…" : b.label;
        svg.appendChild(svgEl("text", { x: LEFT + (i + 0.5) * bw, y: TOP + PH + 14, "text-anchor": "middle",
          class: "ppl-tick" }, label));
      }
    });
  } else if (panel.kind === "hist") {
    const e = panel.edges, c = panel.counts;
    const lo = e[0], hi = e[e.length - 1];
    const total = c.reduce((s, x) => s + x, 0) || 1;
    const dens = c.map((cnt, i) => cnt / total / (e[i + 1] - e[i]));
    const priorDens = prior ? prior.map((cnt, i) => cnt / priorTotal / (e[i + 1] - e[i])) : [];
    const sy = yAxis(svg, Math.max(...dens, ...priorDens, 1e-12), "density");
    const sx = (x) => LEFT + ((x - lo) / (hi - lo)) * PW;
    c.forEach((cnt, i) => {
      const rect = svgEl("rect", {
        x: sx(e[i]), y: sy(dens[i]), width: Math.max(sx(e[i + 1]) - sx(e[i]) - 0.5, 0.5),
        height: TOP + PH - sy(dens[i]), class: "ppl-bin", "data-count": cnt,
      });
      rect.appendChild(svgEl("title", {}, `[${fmt(e[i])}, ${fmt(e[i + 1])}): density ${fmt(dens[i])} (count ${fmt(cnt)})`));
      svg.appendChild(rect);
    });
    if (prior) {
      // One step line over the bins: the prior's density, as in the static picture.
      let d = `M ${sx(e[0])} ${TOP + PH}`;
      priorDens.forEach((v, i) => { d += ` L ${sx(e[i])} ${sy(v)} L ${sx(e[i + 1])} ${sy(v)}`; });
      d += ` L ${sx(e[e.length - 1])} ${TOP + PH}`;
      const line = svgEl("path", { d, class: "ppl-prior-line", "data-counts": prior.join(" ") });
      line.appendChild(svgEl("title", {}, "prior (the same runs, without their weights)"));
      svg.appendChild(line);
    }
    for (const v of ticks(lo, hi, 4)) {
      svg.appendChild(svgEl("line", { x1: sx(v), x2: sx(v), y1: TOP + PH, y2: TOP + PH + 3, class: "ppl-axis" }));
      svg.appendChild(svgEl("text", { x: sx(v), y: TOP + PH + 14, "text-anchor": "middle", class: "ppl-tick" }, fmt(v)));
    }
  }
  xTitle(svg, panel.name);
  return svg;
}

let clipCount = 0;

// 10^e runs as a short tick label: 1, 10, 100, 1k, 10k, 100k, 1M, ...
function count(e) {
  const units = [[9, "G"], [6, "M"], [3, "k"]];
  for (const [p, u] of units) if (e >= p) return `${Math.pow(10, e - p)}${u}`;
  return String(Math.pow(10, e));
}

// The running estimate against the runs (log scale): its standard-error band, the exact value dashed.
function estimateView(est) {
  const box = el("div", "ppl-panel ppl-estimate");
  box.dataset.label = est.label;
  const head = el("div", "ppl-panel-head");
  head.appendChild(el("span", "ppl-panel-name", `running estimate of ${est.label}`));
  box.appendChild(head);
  const pts = est.points;
  const svg = svgEl("svg", { width: W, height: H, class: "ppl-chart" });
  const nLo = Math.max(pts[0][0], 1), nHi = Math.max(pts[pts.length - 1][0], nLo * 10);
  const lx = (n) => Math.log10(Math.max(n, 1));
  const sx = (n) => LEFT + ((lx(n) - lx(nLo)) / (lx(nHi) - lx(nLo))) * PW;
  // The y range: the whole curve, its band past the first few runs (whose band is wide: clipped), the exact value.
  const settled = Math.min(10, pts[pts.length - 1][0]);
  let lo = Infinity, hi = -Infinity;
  for (const [n, m, se] of pts) {
    const half = n >= settled ? (se || 0) : 0;
    lo = Math.min(lo, m - half); hi = Math.max(hi, m + half);
  }
  if (est.exact !== null && est.exact !== undefined) { lo = Math.min(lo, est.exact); hi = Math.max(hi, est.exact); }
  if (!(hi > lo)) { const pad = Math.abs(lo) * 0.05 || 0.05; lo -= pad; hi += pad; }
  const pad = (hi - lo) * 0.08;
  lo -= pad; hi += pad;
  const sy = (v) => TOP + PH - ((v - lo) / (hi - lo)) * PH;
  const clip = `ppl-estimate-clip-${++clipCount}`;  // the band of the first runs is cut at the plot's edges
  const defs = svgEl("defs", {});
  const area = svgEl("clipPath", { id: clip });
  area.appendChild(svgEl("rect", { x: LEFT, y: TOP, width: PW, height: PH }));
  defs.appendChild(area);
  svg.appendChild(defs);
  svg.appendChild(svgEl("line", { x1: LEFT, x2: LEFT + PW, y1: TOP + PH, y2: TOP + PH, class: "ppl-axis" }));
  svg.appendChild(svgEl("line", { x1: LEFT, x2: LEFT, y1: TOP, y2: TOP + PH, class: "ppl-axis" }));
  for (const v of ticks(lo, hi, 3)) {
    svg.appendChild(svgEl("line", { x1: LEFT - 3, x2: LEFT, y1: sy(v), y2: sy(v), class: "ppl-axis" }));
    svg.appendChild(svgEl("text", { x: LEFT - 5, y: sy(v) + 4, "text-anchor": "end", class: "ppl-tick" }, fmt(v)));
  }
  for (let e = Math.ceil(lx(nLo)); e <= Math.floor(lx(nHi)); e++) {
    const x = sx(Math.pow(10, e));
    svg.appendChild(svgEl("line", { x1: x, x2: x, y1: TOP + PH, y2: TOP + PH + 3, class: "ppl-axis" }));
    svg.appendChild(svgEl("text", { x, y: TOP + PH + 14, "text-anchor": "middle", class: "ppl-tick" }, count(e)));
  }
  if (est.band) {
    const withSe = pts.filter((p) => p[2] !== null);
    if (withSe.length > 1) {
      const upper = withSe.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1] + p[2]).toFixed(1)}`);
      const lower = withSe.slice().reverse().map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1] - p[2]).toFixed(1)}`);
      svg.appendChild(svgEl("path", { d: `M${upper.join("L")}L${lower.join("L")}Z`, class: "ppl-estimate-band",
        "clip-path": `url(#${clip})` }));
    }
  }
  if (est.exact !== null && est.exact !== undefined) {
    const line = svgEl("line", { x1: LEFT, x2: LEFT + PW, y1: sy(est.exact), y2: sy(est.exact), class: "ppl-exact" });
    line.appendChild(svgEl("title", {}, `${est.exact_label || "exact"}: ${fmt(est.exact)}`));
    svg.appendChild(line);
  }
  const d = pts.map((p, i) => `${i ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join("");
  svg.appendChild(svgEl("path", { d, class: "ppl-estimate-line" }));
  svg.appendChild(svgEl("text", { x: LEFT + PW / 2, y: H - 3, "text-anchor": "middle", class: "ppl-axis-title" },
    "runs (log scale)"));
  box.appendChild(svg);
  const [n, mean, se] = pts[pts.length - 1];
  const stats = el("div", "ppl-panel-stats");
  const value = el("span", "ppl-estimate-value", fmt(mean));
  value.dataset.value = mean;
  stats.append(value);
  if (se !== null) stats.append(document.createTextNode(` ± ${Number(se.toPrecision(2))}`));
  stats.append(document.createTextNode(` after ${n} runs`));
  if (est.exact !== null && est.exact !== undefined) {
    stats.append(document.createTextNode(` · ${est.exact_label || "exact"} ${fmt(est.exact)}`));
  }
  box.appendChild(stats);
  if (est.band && est.correlated) {
    box.appendChild(el("div", "ppl-panel-note", "band: ± 1 se as if draws were independent (a chain's are not)"));
  }
  return box;
}

function panelView(panel, ofRuns, weighted) {
  const box = el("div", "ppl-panel");
  box.dataset.site = panel.name;
  box.dataset.kind = panel.kind;
  const head = el("div", "ppl-panel-head");
  head.appendChild(el("span", "ppl-panel-name", panel.name));
  if (panel.dist) head.appendChild(el("span", "ppl-panel-dist", ` ~ ${panel.dist}`));
  box.appendChild(head);
  if (panel.note) box.appendChild(el("div", "ppl-panel-note", panel.note));
  box.appendChild(chart(panel));
  const stats = el("div", "ppl-panel-stats");
  const count = el("span", "ppl-panel-count", String(panel.runs));
  count.dataset.runs = panel.runs;
  stats.append(count, document.createTextNode(panel.runs < ofRuns ? ` of ${ofRuns} runs` : " runs"));
  if (weighted) stats.append(document.createTextNode(` · weight ${fmt(panel.share)}`));
  if (panel.mean !== null) {
    stats.append(document.createTextNode(" · mean "), el("span", "ppl-panel-mean", fmt(panel.mean)));
    stats.append(document.createTextNode(" · sd "), el("span", "ppl-panel-sd", fmt(panel.sd)));
  }
  if (panel.prior_mean !== null && panel.prior_mean !== undefined) {
    stats.append(document.createTextNode(" · prior mean "), el("span", "ppl-panel-prior-mean", fmt(panel.prior_mean)));
  }
  box.appendChild(stats);
  return box;
}

function groupView(group, byName, ofRuns, weighted, pageSize, pages) {
  const box = el("div", "ppl-group");
  box.dataset.pattern = group.pattern;
  const n = group.members.length;
  const head = el("div", "ppl-group-head");
  head.appendChild(el("span", "ppl-panel-name", `${group.pattern}: ${n} sites`));
  box.appendChild(head);
  // How many runs made each member: the depth profile of a recursion.
  const appear = el("div", "ppl-group-appearance");
  const top = Math.max(...group.runs, 1);
  group.members.forEach((name, i) => {
    const row = el("div", "ppl-appear-row");
    row.dataset.site = name;
    row.appendChild(el("span", "ppl-appear-name", name));
    const bar = el("span", "ppl-appear-bar");
    bar.style.width = `${Math.max(1, 120 * group.runs[i] / top)}px`;
    row.appendChild(bar);
    row.appendChild(el("span", "ppl-appear-runs", String(group.runs[i])));
    appear.appendChild(row);
  });
  box.appendChild(appear);
  const pageCount = Math.max(1, Math.ceil(n / pageSize));
  let page = Math.min(pages[group.pattern] || 0, pageCount - 1);
  const nav = el("div", "ppl-group-nav");
  const prev = el("button", "ppl-group-prev", "◀");
  const next = el("button", "ppl-group-next", "▶");
  const label = el("span", "ppl-group-page");
  const grid = el("div", "ppl-grid");
  const show = () => {
    label.textContent = `page ${page + 1} of ${pageCount}`;
    label.dataset.page = page;
    prev.disabled = page === 0;
    next.disabled = page >= pageCount - 1;
    grid.replaceChildren();
    for (const name of group.members.slice(page * pageSize, (page + 1) * pageSize)) {
      if (byName[name]) grid.appendChild(panelView(byName[name], ofRuns, weighted));
    }
  };
  prev.onclick = () => { page = Math.max(0, page - 1); pages[group.pattern] = page; show(); };
  next.onclick = () => { page = Math.min(pageCount - 1, page + 1); pages[group.pattern] = page; show(); };
  nav.append(prev, label, next);
  box.append(nav, grid);
  show();
  return box;
}

function duration(seconds) {
  if (seconds < 60) return `${Math.max(1, Math.ceil(seconds))} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - 60 * minutes)} s`;
}

function render({ model, el: host }) {
  const root = el("div", "ppl-hist");
  const head = el("div", "ppl-hist-head");
  const title = el("span", "ppl-hist-title");
  const runs = el("span", "ppl-hist-runs");
  const status = el("span", "ppl-hist-status");
  const stop = el("button", "ppl-stop", "Stop");
  const progress = el("progress", "ppl-progress");
  const eta = el("span", "ppl-eta");
  const message = el("div", "ppl-hist-message");
  // Shown when the panels carry the prior beside the posterior.
  const legend = el("span", "ppl-legend");
  legend.append(el("span", "ppl-legend-posterior"), document.createTextNode("posterior "),
    el("span", "ppl-legend-prior"), document.createTextNode("prior"));
  head.append(title, runs, progress, eta, status, legend, stop);
  let since = null;  // [time, runs] when this view first saw the run going: the rate behind the time left
  const body = el("div", "ppl-hist-body");
  root.append(head, message, body);
  host.appendChild(root);
  const pages = {};  // current page per group, kept across redraws

  function draw() {
    const st = model.get("status");
    root.dataset.status = st;
    title.textContent = model.get("title");
    const n = model.get("runs"), target = model.get("target");
    runs.textContent = target ? `${n} / ${target} runs` : `${n} runs`;
    runs.dataset.runs = n;
    const going = st === "running" && target > 0;
    progress.style.display = going ? "" : "none";
    if (going) { progress.max = target; progress.value = Math.min(n, target); }
    eta.textContent = "";
    delete eta.dataset.seconds;
    if (going) {
      const now = performance.now();
      if (since === null || n < since[1]) since = [now, n];
      const seconds = (now - since[0]) / 1000, done = n - since[1];
      // Estimated only after a second of runs: the first frames' rate says little.
      if (seconds >= 1 && done > 0) {
        const left = (target - n) * seconds / done;
        eta.dataset.seconds = left.toFixed(1);
        eta.textContent = `about ${duration(left)} left`;
      }
    }
    status.textContent = st;
    stop.style.display = model.get("stoppable") && st === "running" ? "" : "none";
    stop.disabled = model.get("stop_requested");
    message.textContent = model.get("message");
    const panels = model.get("panels"), groups = model.get("groups");
    const weighted = model.get("weighted");
    legend.style.display = panels.some((p) => p.prior) ? "" : "none";
    const byName = {};
    for (const p of panels) byName[p.name] = p;
    body.replaceChildren();
    const grid = el("div", "ppl-grid");
    const est = model.get("estimate");
    if (est && est.points && est.points.length) grid.appendChild(estimateView(est));
    for (const p of panels) if (!p.group) grid.appendChild(panelView(p, n, weighted));
    body.appendChild(grid);
    for (const g of groups) body.appendChild(groupView(g, byName, n, weighted, model.get("page_size"), pages));
  }
  stop.onclick = () => {
    model.set("stop_requested", true);
    model.save_changes();
    stop.disabled = true;
  };
  const events = ["panels", "groups", "runs", "status", "message", "stoppable", "stop_requested", "title", "estimate"];
  // One message from the kernel changes several traits at once: draw once for all of them.
  let queued = false;
  const redraw = () => {
    if (queued) return;
    queued = true;
    queueMicrotask(() => { queued = false; draw(); });
  };
  for (const e of events) model.on(`change:${e}`, redraw);
  draw();
  return () => { for (const e of events) model.off(`change:${e}`, redraw); };
}

export default { render };
