// Trace-tree widget (anywidget ESM, no build step): one run as its call tree.
// The kernel sends the tree as nested JSON; "resample" asks the kernel for a new run.
// DOM markers are documented in extension/trace_tree.py.

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function siteView(s) {
  const row = el("div", "ppl-site");
  row.dataset.site = s.name;
  row.dataset.observed = s.observed ? "true" : "false";
  row.append(el("span", "ppl-site-name", s.name), document.createTextNode(" ~ "),
    el("span", "ppl-site-dist", s.dist), document.createTextNode(" = "),
    el("span", "ppl-site-value", s.value));
  if (s.log_prob !== null) row.appendChild(el("span", "ppl-site-logp", `log p = ${s.log_prob}`));
  if (s.observed) row.appendChild(el("span", "ppl-observed", "observed"));
  return row;
}

function callView(node, open, model) {
  const d = el("details", "ppl-call");
  d.dataset.call = node.name;
  d.dataset.depth = node.depth;
  if (open[node.path] !== false) d.open = true;
  d.addEventListener("toggle", () => { open[node.path] = d.open; });
  const s = el("summary", "ppl-call-head");
  s.append(el("span", "ppl-call-sig", node.signature));
  if (node.returned) s.append(el("span", "ppl-call-ret", ` → ${node.ret}`));
  d.appendChild(s);
  for (const c of node.children) d.appendChild(c.kind === "call" ? callView(c, open, model) : siteView(c));
  if (node.pending) {  // a big or deep run is sent a part at a time: ask the kernel for the next part
    const more = el("button", "ppl-more", `show ${node.pending} more`);
    more.dataset.path = node.path;
    more.onclick = () => model.send({ type: "expand", path: node.path });
    d.appendChild(more);
  }
  return d;
}

function render({ model, el: host }) {
  const root = el("div", "ppl-tree ppl-tree-live");
  const head = el("div", "ppl-tree-head");
  const title = el("span", "ppl-tree-title");
  const info = el("span", "ppl-tree-info");
  const resample = el("button", "ppl-resample", "resample");
  const expand = el("button", "ppl-expand-all", "expand all");
  const collapse = el("button", "ppl-collapse-all", "collapse all");
  head.append(title, info, resample, expand, collapse);
  const body = el("div", "ppl-tree-body");
  const error = el("div", "ppl-tree-error");
  root.append(head, error, body);
  host.appendChild(root);
  const open = {};  // path -> open?, kept across redraws so a resample keeps the user's view

  function draw() {
    title.textContent = model.get("title");
    const n = model.get("run");
    root.dataset.run = n;
    info.textContent = model.get("info");
    resample.style.display = model.get("can_resample") ? "" : "none";
    error.textContent = model.get("error");
    body.replaceChildren();
    const tree = model.get("tree");
    if (tree && tree.kind === "call") body.appendChild(callView(tree, open, model));
  }
  resample.onclick = () => model.send({ type: "resample" });
  expand.onclick = () => root.querySelectorAll("details.ppl-call").forEach((d) => { d.open = true; });
  collapse.onclick = () => root.querySelectorAll("details.ppl-call").forEach((d, i) => { d.open = i === 0; });
  const events = ["tree", "run", "info", "error", "can_resample", "title"];
  for (const e of events) model.on(`change:${e}`, draw);
  draw();
  return () => { for (const e of events) model.off(`change:${e}`, draw); };
}

export default { render };
