// The live loss curve of an SVI run (anywidget ESM, no build step).
// The kernel sends the loss history thinned to at most ~500 points a few times a second; this draws
// it as one SVG polyline. DOM markers are documented in extension/loss_curve.py.

const SVG = "http://www.w3.org/2000/svg";
const W = 460, H = 180, L = 56, R = 10, T = 10, B = 26;

function svgEl(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}

function fmt(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(2);
  return x.toPrecision(4).replace(/\.?0+$/, "");
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "ppl-loss";
  const head = document.createElement("div");
  head.className = "ppl-loss-head";
  const svg = svgEl("svg", { width: W, height: H, class: "ppl-loss-chart" });
  root.append(head, svg);
  el.appendChild(root);

  function draw() {
    const steps = model.get("steps"), losses = model.get("losses");
    root.dataset.status = model.get("status");
    root.dataset.steps = String(model.get("total_steps"));
    const last = losses.length ? losses[losses.length - 1] : null;
    head.textContent = `${model.get("title")}: step ${model.get("total_steps")}, loss ${fmt(last)}` +
      (model.get("status") === "running" ? " …" : "");
    svg.replaceChildren();
    if (steps.length < 2) return;
    const finite = losses.filter(Number.isFinite);
    let lo = Math.min(...finite), hi = Math.max(...finite);
    if (hi === lo) { hi += 1; lo -= 1; }
    const x0 = steps[0], x1 = steps[steps.length - 1] || 1;
    const sx = (s) => L + ((s - x0) / Math.max(x1 - x0, 1)) * (W - L - R);
    const sy = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
    svg.append(svgEl("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "ppl-loss-axis" }),
               svgEl("line", { x1: L, y1: T, x2: L, y2: H - B, class: "ppl-loss-axis" }));
    for (const [v, y] of [[hi, T + 4], [lo, H - B]]) {
      const t = svgEl("text", { x: L - 4, y, "text-anchor": "end", class: "ppl-loss-tick" });
      t.textContent = fmt(v);
      svg.append(t);
    }
    for (const [s, anchor] of [[x0, "start"], [x1, "end"]]) {
      const t = svgEl("text", { x: sx(s), y: H - 8, "text-anchor": anchor, class: "ppl-loss-tick" });
      t.textContent = String(s);
      svg.append(t);
    }
    const points = steps.map((s, i) => Number.isFinite(losses[i]) ? `${sx(s)},${sy(losses[i])}` : null)
      .filter((p) => p !== null).join(" ");
    svg.append(svgEl("polyline", { points, class: "ppl-loss-line", "data-points": String(steps.length) }));
  }

  model.on("change", draw);
  draw();
}

export default { render };
