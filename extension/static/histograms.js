// Live per-site histograms (anywidget ESM, no build step).
// The kernel sends counts (bars) or bin edges + counts (histograms) a few times a second; this
// draws them as small SVG charts. DOM markers are documented in extension/histogram_widget.py.

const SVG = "http://www.w3.org/2000/svg";
const W = 220, H = 96, PAD = 4;

function fmt(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (Number.isInteger(x) && Math.abs(x) < 1e9) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(2);
  return x.toPrecision(4).replace(/\.?0+$/, "");
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function svgEl(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}

function chart(panel) {
  const svg = svgEl("svg", { width: W, height: H + 16, class: "ppl-chart" });
  if (panel.kind === "bars") {
    const total = panel.bars.reduce((s, b) => s + b.count, 0) || 1;
    const n = panel.bars.length;
    const bw = (W - 2 * PAD) / Math.max(n, 1);
    const top = Math.max(...panel.bars.map((b) => b.count / total), 1e-12);
    panel.bars.forEach((b, i) => {
      const f = b.count / total;
      const h = (H - 14) * (f / top);
      const rect = svgEl("rect", {
        x: PAD + i * bw + 1, y: H - h, width: Math.max(bw - 2, 1), height: h,
        class: "ppl-bar", "data-label": b.label, "data-count": b.count,
      });
      const tip = svgEl("title", {});
      tip.textContent = `${b.label}: ${fmt(f)} (${fmt(b.count)})`;
      rect.appendChild(tip);
      svg.appendChild(rect);
      if (n <= 12) {
        const t = svgEl("text", { x: PAD + (i + 0.5) * bw, y: H + 12, "text-anchor": "middle", class: "ppl-tick" });
        t.textContent = b.label.length > 8 ? b.label.slice(0, 7) + "…" : b.label;
        svg.appendChild(t);
        if (bw >= 26) {  // narrower bars would run their labels together; the tooltip still tells
          const v = svgEl("text", { x: PAD + (i + 0.5) * bw, y: H - h - 2, "text-anchor": "middle", class: "ppl-freq" });
          v.textContent = fmt(Math.round(f * 1000) / 1000);
          svg.appendChild(v);
        }
      }
    });
  } else if (panel.kind === "hist") {
    const e = panel.edges, c = panel.counts;
    const lo = e[0], hi = e[e.length - 1];
    const top = Math.max(...c, 1e-12);
    const sx = (x) => PAD + ((x - lo) / (hi - lo)) * (W - 2 * PAD);
    c.forEach((cnt, i) => {
      const h = (H - 6) * (cnt / top);
      svg.appendChild(svgEl("rect", {
        x: sx(e[i]), y: H - h, width: Math.max(sx(e[i + 1]) - sx(e[i]) - 0.5, 0.5), height: h,
        class: "ppl-bin", "data-count": cnt,
      }));
    });
    const l = svgEl("text", { x: PAD, y: H + 12, class: "ppl-tick" });
    l.textContent = fmt(lo);
    const r = svgEl("text", { x: W - PAD, y: H + 12, "text-anchor": "end", class: "ppl-tick" });
    r.textContent = fmt(hi);
    svg.append(l, r);
  }
  return svg;
}

function panelView(panel, ofRuns, weighted) {
  const box = el("div", "ppl-panel");
  box.dataset.site = panel.name;
  box.dataset.kind = panel.kind;
  const head = el("div", "ppl-panel-head");
  head.appendChild(el("span", "ppl-panel-name", panel.name));
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

function render({ model, el: host }) {
  const root = el("div", "ppl-hist");
  const head = el("div", "ppl-hist-head");
  const title = el("span", "ppl-hist-title");
  const runs = el("span", "ppl-hist-runs");
  const status = el("span", "ppl-hist-status");
  const stop = el("button", "ppl-stop", "Stop");
  const message = el("div", "ppl-hist-message");
  head.append(title, runs, status, stop);
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
    status.textContent = st;
    stop.style.display = model.get("stoppable") && st === "running" ? "" : "none";
    stop.disabled = model.get("stop_requested");
    message.textContent = model.get("message");
    const panels = model.get("panels"), groups = model.get("groups");
    const weighted = model.get("weighted");
    const byName = {};
    for (const p of panels) byName[p.name] = p;
    body.replaceChildren();
    const grid = el("div", "ppl-grid");
    for (const p of panels) if (!p.group) grid.appendChild(panelView(p, n, weighted));
    body.appendChild(grid);
    for (const g of groups) body.appendChild(groupView(g, byName, n, weighted, model.get("page_size"), pages));
  }
  stop.onclick = () => {
    model.set("stop_requested", true);
    model.save_changes();
    stop.disabled = true;
  };
  const events = ["panels", "groups", "runs", "status", "message", "stoppable", "stop_requested", "title"];
  for (const e of events) model.on(`change:${e}`, draw);
  draw();
  return () => { for (const e of events) model.off(`change:${e}`, draw); };
}

export default { render };
